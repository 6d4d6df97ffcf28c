import {
  AgentSRE,
  type AgentSREOptions,
  type CallCompletedEvent,
  type CallRefusedEvent,
  GenAIPriceCatalog,
  ManualClock,
} from "@agent-sre/core";
import type { BaseMessage } from "@langchain/core/messages";
import { tool } from "langchain";
import { z } from "zod";

/** Test prices (USD per million tokens): small round numbers, so expected costs are easy to compute. */
export const RATES = {
  "scripted-1": { input: 10, output: 40 },
  "scripted-1-large": { input: 100, output: 400 },
} as const;

export function priceOf(model: keyof typeof RATES, input: number, output: number): number {
  const rates = RATES[model];
  return (input * rates.input + output * rates.output) / 1_000_000;
}

/** An engine on a manual clock with the test prices, recording every completed and refused call. */
export function engine(options: AgentSREOptions = {}) {
  const clock = new ManualClock();
  const prices = new GenAIPriceCatalog({
    overrides: Object.fromEntries(
      Object.entries(RATES).map(([model, rates]) => [
        model,
        { inputPerMTokUsd: rates.input, outputPerMTokUsd: rates.output },
      ]),
    ),
  });
  const sre = new AgentSRE({ clock, prices, ...options });
  const completed: CallCompletedEvent[] = [];
  const refused: CallRefusedEvent[] = [];
  sre.on("call.completed", (event) => completed.push(event));
  sre.on("call.refused", (event) => refused.push(event));
  return { sre, clock, completed, refused };
}

/**
 * Drives a promise that waits on the manual clock (injected latency, timeouts, throttle waits): lets the
 * run progress a macrotask at a time and moves time forward in `stepMs` steps only while timers wait.
 */
export async function drive<T>(
  clock: ManualClock,
  promise: Promise<T>,
  stepMs = 50,
  maxSteps = 100_000,
): Promise<T> {
  let done = false;
  const settled = promise.then(
    (value) => {
      done = true;
      return value;
    },
    (error: unknown) => {
      done = true;
      throw error;
    },
  );
  for (let step = 0; !done && step < maxSteps; step++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!done && clock.pendingTimers > 0) clock.advance(stepMs);
  }
  return settled;
}

/** A calculator tool that counts its calls. */
export function addTool() {
  const calls: Array<{ a: number; b: number }> = [];
  const add = tool(
    async ({ a, b }: { a: number; b: number }) => {
      calls.push({ a, b });
      return String(a + b);
    },
    { name: "add", description: "Adds two numbers.", schema: z.object({ a: z.number(), b: z.number() }) },
  );
  return { add, calls };
}

/** Text of a message's content. */
export function textOf(message: BaseMessage): string {
  return typeof message.content === "string" ? message.content : JSON.stringify(message.content);
}

/** `type:content` lines of a transcript, for readable assertions. */
export function transcript(messages: readonly BaseMessage[]): string[] {
  return messages.map((message) => `${message.type}:${textOf(message)}`);
}
