import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NODE } from "../mcp/helpers.js";

const MEMBER = fileURLToPath(new URL("./fixtures/fleet-member.mjs", import.meta.url));
const URL_6379 = process.env.AGENT_SRE_TEST_REDIS ?? "redis://127.0.0.1:6379";
const PREFIX = `agent-sre-test:fleet:${process.pid}:${Date.now()}:`;
const LIMIT_USD = 5;
const COST_USD = 0.001;

/** A fleet member process: send a command on stdin, await its one-line JSON answer on stdout. */
class Member {
  readonly child: ChildProcess;
  readonly #answers = new Map<number, (answer: Record<string, unknown>) => void>();
  readonly ready: Promise<void>;
  #next = 1;
  #buffer = "";
  #stderr = "";

  constructor() {
    this.child = spawn(NODE, [MEMBER, URL_6379, PREFIX, String(LIMIT_USD)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let markReady!: () => void;
    this.ready = new Promise((resolve) => {
      markReady = resolve;
    });
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.child.stdout?.on("data", (chunk: Buffer) => {
      this.#buffer += chunk.toString();
      let newline = this.#buffer.indexOf("\n");
      while (newline >= 0) {
        const message = JSON.parse(this.#buffer.slice(0, newline)) as Record<string, unknown>;
        this.#buffer = this.#buffer.slice(newline + 1);
        if (message.ready === true) markReady();
        else this.#answers.get(message.id as number)?.(message);
        newline = this.#buffer.indexOf("\n");
      }
    });
  }

  send(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#answers.set(id, resolve);
      this.child.once("exit", (code) => reject(new Error(`member exited ${code}: ${this.#stderr}`)));
    });
    this.child.stdin?.write(`${JSON.stringify({ ...command, id })}\n`);
    return answer;
  }
}

/**
 * Four processes share one $5 daily limit on a real Redis: 4 × 2,500 concurrent reservations never spend
 * more than the limit and every admitted call is accounted; a kill or a breaker opening in one process
 * refuses in the others (how soon: the propagation figures of bench/stores.mjs).
 */
describe("fleet: four processes on one Redis", { timeout: 180_000 }, () => {
  const redis = new Redis(URL_6379, { lazyConnect: true });
  let members: Member[] = [];

  beforeAll(async () => {
    await redis.connect();
    members = [new Member(), new Member(), new Member(), new Member()];
    await Promise.all(members.map((member) => member.ready));
  });

  afterAll(async () => {
    for (const member of members) if (member.child.exitCode === null) member.child.kill("SIGKILL");
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("a kill in one process refuses in the others; an opened breaker is open in all", async () => {
    const [killer, ...others] = members as [Member, ...Member[]];
    // Each watcher answers on the broadcast itself, not by polling; how fast that is: bench/stores.mjs.
    const watching = others.map((member) => member.send({ cmd: "watch", agent: "victim" }));
    await Promise.all(others.map((member) => member.send({ cmd: "ping" })));
    await killer.send({ cmd: "kill", agent: "victim" });
    for (const answer of await Promise.all(watching)) expect(answer.refused).toBe("AGENT_KILLED");

    const breakerWatch = others.map((member) =>
      member.send({ cmd: "watchBreaker", breaker: "upstream:files" }),
    );
    await Promise.all(others.map((member) => member.send({ cmd: "ping" })));
    const opened = (await killer.send({ cmd: "fail", breaker: "upstream:files", count: 3 })) as {
      state: string;
    };
    expect(opened.state).toBe("OPEN");
    for (const answer of await Promise.all(breakerWatch)) expect(answer.state).toBe("OPEN");
  });

  it("4 × 2,500 concurrent reservations on one $-limit: no overshoot, every admitted call accounted", async () => {
    const results = await Promise.all(
      members.map((member) => member.send({ cmd: "burst", agent: "fleet", count: 2500, costUsd: COST_USD })),
    );
    await Promise.all(members.map((member) => member.send({ cmd: "close" })));
    const admitted = results.reduce((sum, r) => sum + (r.admitted as number), 0);
    const refused = results.flatMap((r) => Object.entries(r.codes as Record<string, number>));
    for (const [code] of refused) expect(["BUDGET_EXCEEDED", "AGENT_KILLED"]).toContain(code);
    expect(admitted + refused.reduce((sum, [, n]) => sum + n, 0)).toBe(10_000);

    const dayKeys = await redis.keys(`${PREFIX}l:agent-day:*:fleet`);
    expect(dayKeys).toHaveLength(1);
    const [spent, reserved] = (await redis.hmget(dayKeys[0] as string, "spent", "reserved")).map(Number);
    // 0 % overshoot, and the ledger is exactly the admitted calls (µUSD), with nothing left held.
    expect(spent).toBeLessThanOrEqual(LIMIT_USD * 1_000_000);
    expect(spent).toBe(admitted * COST_USD * 1_000_000);
    expect(reserved).toBe(0);
    // Leases are shared out, not hoarded: most of the limit was used (at most a few idle chunks unused).
    expect(admitted).toBeGreaterThan(4_000);
    // And served in process: far fewer round trips than calls.
    const trips = results.reduce((sum, r) => sum + (r.leaseRequests as number), 0);
    expect(trips).toBeLessThan(1_000);
  });
});
