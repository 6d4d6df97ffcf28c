import { ContextOverflowError } from "@langchain/core/errors";
import { ToolInputParsingException } from "@langchain/core/tools";
import { describe, expect, it } from "vitest";
import { classifyLangChainFailure } from "./failure-class.js";

const withCode = (code: string, status?: number) =>
  Object.assign(new Error(code), { lc_error_code: code }, status === undefined ? {} : { status });

describe("LangChain's error types read as failure classes", () => {
  it("a status the integration passed through decides first", () => {
    expect(classifyLangChainFailure(withCode("MODEL_RATE_LIMIT", 429))).toBe("provider");
    expect(classifyLangChainFailure(Object.assign(new Error("x"), { status: 503 }))).toBe("provider");
    expect(classifyLangChainFailure(Object.assign(new Error("x"), { status: 400 }))).toBe("caller");
  });

  it("lc_error_code: MODEL_RATE_LIMIT is the provider's; prompt, auth and model-name errors the caller's", () => {
    expect(classifyLangChainFailure(withCode("MODEL_RATE_LIMIT"))).toBe("provider");
    for (const code of [
      "INVALID_PROMPT_INPUT",
      "MODEL_AUTHENTICATION",
      "MODEL_NOT_FOUND",
      "CONTEXT_OVERFLOW",
    ]) {
      expect(classifyLangChainFailure(withCode(code))).toBe("caller");
    }
  });

  it("a prompt over the context window and tool input that fails its schema are the caller's", () => {
    expect(classifyLangChainFailure(new ContextOverflowError("too long"))).toBe("caller");
    expect(classifyLangChainFailure(new ToolInputParsingException("bad args"))).toBe("caller");
    const wrapped = Object.assign(new Error("middleware failed"), {
      cause: new ToolInputParsingException("x"),
    });
    expect(classifyLangChainFailure(wrapped)).toBe("caller");
    expect(classifyLangChainFailure(new Error("boom"))).toBeUndefined();
  });
});
