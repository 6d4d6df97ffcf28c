import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { ATTEMPT_META_KEY } from "./caller.js";
import type { ResolvedIdentity } from "./proxy-context.js";
import type { UpstreamConnection } from "./upstream.js";
import { UpstreamConnectionLostError, UpstreamUnavailableError } from "./upstream-types.js";
import { NO_TIMEOUT_MS, toWireError, WireError } from "./wire.js";

// biome-ignore lint/suspicious/noExplicitAny: raw JSON-RPC passthrough
export type Extra = RequestHandlerExtra<any, any>;
export type Params = Record<string, unknown> & { _meta?: Record<string, unknown> };

/**
 * Forwards a request to one upstream and returns its result untouched. Progress is relayed with the
 * client's token; a cancelled request is cancelled upstream; no SDK timeout is imposed.
 */
export async function forward(
  connection: UpstreamConnection,
  method: string,
  params: Params,
  extra: Extra,
  identity: ResolvedIdentity,
): Promise<Record<string, unknown>> {
  const { params: upstreamParams, progressToken } = paramsForUpstream(params, identity);
  const relay = progressToken === undefined ? undefined : new ProgressRelay(progressToken, extra);
  try {
    const result = await connection.request(method, upstreamParams, {
      signal: extra.signal,
      timeout: NO_TIMEOUT_MS,
      ...(relay === undefined ? {} : { onprogress: relay.onprogress }),
    });
    await relay?.flushed();
    return result;
  } catch (error) {
    if (error instanceof UpstreamUnavailableError || error instanceof UpstreamConnectionLostError) {
      throw new WireError(
        ErrorCode.InternalError,
        `${error.message}; retry after ${Math.ceil(error.retryAfterMs / 1000)} s`,
        {
          retryAfterMs: Math.ceil(error.retryAfterMs),
        },
      );
    }
    throw toWireError(error);
  }
}

/** The client's params for the upstream: our `_meta` keys removed, the progress token taken out. */
export function paramsForUpstream(
  params: Params,
  identity: ResolvedIdentity,
): { params: Params; progressToken: string | number | undefined } {
  const meta = params._meta;
  if (meta === undefined) return { params, progressToken: undefined };
  const { progressToken, ...rest } = meta as { progressToken?: string | number } & Record<string, unknown>;
  const ours = identity;
  delete rest[ours.metaKey];
  delete rest[ours.taskMetaKey];
  delete rest[ATTEMPT_META_KEY];
  const copy: Params = { ...params };
  if (Object.keys(rest).length === 0) delete copy._meta;
  else copy._meta = rest;
  return { params: copy, progressToken };
}

/**
 * Relays an upstream's progress to the client under the client's own token (the SDK gives the upstream a
 * token of its own), in order, and lets the caller wait until every relayed notification was handed to the
 * client's transport, so the result never overtakes the last progress.
 */
export class ProgressRelay {
  #last: Promise<void> = Promise.resolve();
  readonly onprogress: (progress: { progress: number; total?: number; message?: string }) => void;

  constructor(token: string | number, extra: Extra) {
    this.onprogress = (progress) => {
      const sent = extra
        .sendNotification({ method: "notifications/progress", params: { ...progress, progressToken: token } })
        .catch(() => {});
      this.#last = this.#last.then(() => sent);
    };
  }

  flushed(): Promise<void> {
    return this.#last;
  }
}
