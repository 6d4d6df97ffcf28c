import { type CompiledMatcher, compileMatchers, type Matcher, matchAll } from "./matchers.js";

/** A silence mutes every alert its matchers select between `startsAt` and `endsAt`. */
export interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

export interface SilenceInput {
  matchers: ReadonlyArray<Matcher | string>;
  /** Default: now. */
  startsAt?: number;
  /** When the silence expires (ms epoch). Give this or `durationMs`. */
  endsAt?: number;
  durationMs?: number;
  createdBy?: string;
  comment?: string;
  id?: string;
}

interface Entry {
  silence: Silence;
  compiled: CompiledMatcher[];
}

/** The active and pending silences; expired ones are dropped as time passes (state stays bounded). */
export class Silences {
  readonly #entries = new Map<string, Entry>();
  #nextId = 1;

  add(input: SilenceInput, now: number): Silence {
    const compiled = compileMatchers(input.matchers);
    if (compiled.length === 0) throw new Error("a silence needs at least one matcher");
    const startsAt = input.startsAt ?? now;
    const endsAt =
      input.endsAt ?? (input.durationMs === undefined ? Number.NaN : startsAt + input.durationMs);
    if (!Number.isFinite(endsAt) || endsAt <= startsAt) {
      throw new Error("a silence needs endsAt after startsAt (or a positive durationMs)");
    }
    const id = input.id ?? `silence-${now.toString(36)}-${(this.#nextId++).toString(36)}`;
    const silence: Silence = {
      id,
      matchers: compiled.map(({ name, type, value }) => ({ name, type, value })),
      startsAt,
      endsAt,
      createdBy: input.createdBy ?? "agent-sre",
      comment: input.comment ?? "",
    };
    this.#entries.set(id, { silence, compiled });
    return silence;
  }

  /** Ends a silence now; returns whether it existed. */
  expire(id: string): boolean {
    return this.#entries.delete(id);
  }

  /** The id of the first active silence muting these labels, if any. */
  mutedBy(labels: Readonly<Record<string, string>>, now: number): string | undefined {
    for (const [id, entry] of this.#entries) {
      if (entry.silence.endsAt <= now) {
        this.#entries.delete(id);
        continue;
      }
      if (entry.silence.startsAt <= now && matchAll(entry.compiled, labels)) return id;
    }
    return undefined;
  }

  list(now: number): Silence[] {
    const out: Silence[] = [];
    for (const [id, entry] of this.#entries) {
      if (entry.silence.endsAt <= now) this.#entries.delete(id);
      else out.push(entry.silence);
    }
    return out;
  }
}
