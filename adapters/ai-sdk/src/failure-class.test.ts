import { defaultClassifyFailure } from "@agent-sre/core";
import {
  APICallError,
  InvalidPromptError,
  JSONParseError,
  LoadAPIKeyError,
  RetryError,
  TypeValidationError,
} from "ai";
import { describe, expect, it } from "vitest";
import { classifyAiSdkFailure } from "./failure-class.js";

const apiCallError = (statusCode: number | undefined, cause?: unknown) =>
  new APICallError({ message: "m", url: "https://api.example/v1", requestBodyValues: {}, statusCode, cause });

describe("classifyAiSdkFailure reads the AI SDK's own error types", () => {
  it("APICallError: 5xx, 429, 408 are the provider's; other 4xx the caller's", () => {
    for (const status of [500, 503, 429, 408])
      expect(classifyAiSdkFailure(apiCallError(status))).toBe("provider");
    for (const status of [400, 401, 403, 404, 409, 422])
      expect(classifyAiSdkFailure(apiCallError(status))).toBe("caller");
  });

  it("APICallError without a status (the SDK's 'Cannot connect to API') is the provider's", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(classifyAiSdkFailure(apiCallError(undefined, refused))).toBe("provider");
  });

  it("a 200 whose body failed the provider schema is the provider's, though its cause is a TypeValidationError", () => {
    const invalid = apiCallError(200, new TypeValidationError({ value: {}, cause: new Error("bad shape") }));
    expect(classifyAiSdkFailure(invalid)).toBe("provider");
    // Core's generic rule alone would read the cause and blame the caller: the adapter's reading wins.
    expect(defaultClassifyFailure(invalid)).toBe("caller");
  });

  it("requests that cannot succeed as built are the caller's", () => {
    expect(classifyAiSdkFailure(new LoadAPIKeyError({ message: "OPENAI_API_KEY is missing" }))).toBe(
      "caller",
    );
    expect(classifyAiSdkFailure(new InvalidPromptError({ prompt: {}, message: "empty prompt" }))).toBe(
      "caller",
    );
    expect(classifyAiSdkFailure(new TypeValidationError({ value: 1, cause: new Error("x") }))).toBe("caller");
  });

  it("an unparseable response is the provider's; RetryError goes by its last error", () => {
    expect(classifyAiSdkFailure(new JSONParseError({ text: "{", cause: new Error("eof") }))).toBe("provider");
    const retried = new RetryError({
      message: "failed after 3 attempts",
      reason: "maxRetriesExceeded",
      errors: [apiCallError(503), apiCallError(400)],
    });
    expect(classifyAiSdkFailure(retried)).toBe("caller");
  });

  it("anything else is left to core's default rule", () => {
    expect(classifyAiSdkFailure(new Error("boom"))).toBeUndefined();
    expect(classifyAiSdkFailure("not an error")).toBeUndefined();
  });
});
