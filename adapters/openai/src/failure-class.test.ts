import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { classifyOpenAIFailure, openAIFailureClassifier } from "./failure-class.js";

const client = new OpenAI({ apiKey: "sk-test", baseURL: "http://127.0.0.1:9/v1" });
const classify = openAIFailureClassifier(client);
const statusError = (status: number) =>
  OpenAI.APIError.generate(status, { message: "m", type: "t" }, "m", new Headers());

describe("the OpenAI client's error types read as failure classes", () => {
  it("APIError subclasses go by status: 5xx, 429, 408 provider; other 4xx caller", () => {
    expect(statusError(400)).toBeInstanceOf(OpenAI.BadRequestError);
    for (const status of [500, 502, 503, 429, 408]) expect(classify(statusError(status))).toBe("provider");
    for (const status of [400, 401, 403, 404, 409, 422]) expect(classify(statusError(status))).toBe("caller");
  });

  it("connection errors and timeouts are the provider's; the caller's own abort is left to the engine", () => {
    expect(classify(new OpenAI.APIConnectionError({ message: "connect ECONNREFUSED" }))).toBe("provider");
    expect(classify(new OpenAI.APIConnectionTimeoutError())).toBe("provider");
    expect(classify(new OpenAI.APIUserAbortError())).toBeUndefined();
  });

  it("one classifier per client class; without the classes, the status still decides", () => {
    expect(openAIFailureClassifier(client.withOptions({}))).toBe(classify);
    expect(classifyOpenAIFailure(Object.assign(new Error("x"), { status: 422 }))).toBe("caller");
    expect(classifyOpenAIFailure(new Error("x"))).toBeUndefined();
  });
});
