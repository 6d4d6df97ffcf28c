import { type FailureClass, failureClassOfStatus } from "@agent-sre/core";

// biome-ignore lint/suspicious/noExplicitAny: the SDK's error classes, read from the client's constructor
type ErrorClass = abstract new (...args: any[]) => Error;

/** The error classes the OpenAI client exposes as statics (`OpenAI.APIError`, ...), v6 and v7. */
interface OpenAIErrorClasses {
  APIError?: ErrorClass;
  APIConnectionError?: ErrorClass;
  APIUserAbortError?: ErrorClass;
  OpenAIError?: ErrorClass;
}

/** `OpenAIError`s (not HTTP errors) that say the request itself could not be satisfied as asked. */
const CALLER_ERRORS = new Set([
  "LengthFinishReasonError",
  "ContentFilterFinishReasonError",
  "SubjectTokenProviderError",
]);

export type OpenAIFailureClassifier = (error: unknown) => FailureClass | undefined;

const byConstructor = new WeakMap<object, OpenAIFailureClassifier>();

/**
 * A classifier for the errors of `client`'s SDK (the classes are the ones its constructor exposes, so a
 * duplicate install of `openai` is matched by its own classes): `APIConnectionError` and
 * `APIConnectionTimeoutError` are the provider's; an `APIError` goes by its `status` (core's
 * `failureClassOfStatus`: 5xx, 429, 408 provider, other 4xx caller; none, e.g. an error event mid-stream,
 * the provider's); `LengthFinishReasonError` / `ContentFilterFinishReasonError` are the caller's; the
 * user's own abort (`APIUserAbortError`) and anything else are left to the engine's default rule.
 */
export function openAIFailureClassifier(client: unknown): OpenAIFailureClassifier {
  const ctor = (client as { constructor?: unknown } | null | undefined)?.constructor;
  if (typeof ctor !== "function") return classifyOpenAIFailure;
  let classifier = byConstructor.get(ctor);
  if (classifier === undefined) {
    const classes = ctor as OpenAIErrorClasses;
    classifier = (error) => classifyOpenAIFailure(error, classes);
    byConstructor.set(ctor, classifier);
  }
  return classifier;
}

/** Classifies an OpenAI SDK error; without the client's classes, by the shape of its errors. */
export function classifyOpenAIFailure(
  error: unknown,
  classes: OpenAIErrorClasses = {},
): FailureClass | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  if (isA(error, classes.APIUserAbortError)) return undefined;
  if (isA(error, classes.APIConnectionError)) return "provider";
  const status = (error as { status?: unknown }).status;
  if (isA(error, classes.APIError)) {
    return failureClassOfStatus(typeof status === "number" ? status : undefined) ?? "provider";
  }
  if (typeof status === "number") return failureClassOfStatus(status);
  const name = (error as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name === "string" && CALLER_ERRORS.has(name)) return "caller";
  return undefined;
}

function isA(error: object, type: ErrorClass | undefined): boolean {
  return typeof type === "function" && error instanceof type;
}
