import { describe, expect, it } from "vitest";
import { FailedAttempts } from "./failed-attempts.js";

describe("FailedAttempts", () => {
  it("counts a request handed back after a failure as the next attempt, and nothing else", () => {
    const attempts = new FailedAttempts();
    const prompt = [{ role: "user" }];
    expect(attempts.attemptOf(prompt)).toBe(1);
    expect(attempts.attemptOf(prompt)).toBe(1); // sent again after it succeeded: a new call
    attempts.failed(prompt, 1);
    expect(attempts.attemptOf(prompt)).toBe(2);
    attempts.failed(prompt, 2);
    expect(attempts.attemptOf(prompt)).toBe(3);
    expect(attempts.attemptOf([{ role: "user" }])).toBe(1); // a new step's request
  });

  it("a variant (another model for the same messages) makes its own first attempt", () => {
    const attempts = new FailedAttempts();
    const messages = {};
    attempts.failed(messages, 1, "gpt-4.1");
    expect(attempts.attemptOf(messages, "gpt-4.1")).toBe(2);
    expect(attempts.attemptOf(messages, "gpt-4.1-mini")).toBe(1);
  });
});
