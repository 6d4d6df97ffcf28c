import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import type { Extra, Params } from "./forwarding.js";
import type { ProxyContext, UpstreamPlan } from "./proxy-context.js";
import type { UpstreamConnection } from "./upstream.js";
import { invalidParams, NO_TIMEOUT_MS, plainMessage, WireError } from "./wire.js";

/** What the catalog needs of its session. */
export interface CatalogHost {
  readonly connections: readonly UpstreamConnection[];
  /** The only upstream, when there is exactly one (requests then pass through unchanged). */
  single(): UpstreamConnection | undefined;
  plan(server: string): UpstreamPlan | undefined;
  forward(
    connection: UpstreamConnection,
    method: string,
    params: Params,
    extra: Extra,
  ): Promise<Record<string, unknown>>;
}

/**
 * Prompts, resources, completions and log levels across a session's upstreams: aggregated listings (prompt
 * names prefixed like tools), and the routes that send a prompt, a resource URI or a completion to the
 * upstream that owns it. The routes are learnt from listings and forgotten when an upstream says its list
 * changed.
 */
export class UpstreamCatalog {
  readonly #ctx: ProxyContext;
  readonly #host: CatalogHost;
  #promptRoutes = new Map<string, { connection: UpstreamConnection; name: string }>();
  #resourceRoutes = new Map<string, UpstreamConnection>();
  #templates = new Map<UpstreamConnection, UriTemplate[]>();

  constructor(ctx: ProxyContext, host: CatalogHost) {
    this.#ctx = ctx;
    this.#host = host;
  }

  /** An upstream's prompts or resources changed: what was learnt of them is forgotten. */
  listChanged(method: string): void {
    if (method === "notifications/prompts/list_changed") this.#promptRoutes.clear();
    if (method === "notifications/resources/list_changed") {
      this.#resourceRoutes.clear();
      this.#templates.clear();
    }
  }

  #withCapability(key: "prompts" | "resources" | "logging" | "completions"): UpstreamConnection[] {
    return this.#host.connections.filter((c) => c.ready && c.capabilities?.[key] !== undefined);
  }

  async listPrompts(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const single = this.#host.single();
    const prefixless = single !== undefined && this.#host.plan(single.name)?.prefix === "";
    if (single !== undefined && prefixless) {
      const result = await this.#host.forward(single, "prompts/list", params, extra);
      for (const prompt of (result.prompts as Array<{ name: string }> | undefined) ?? []) {
        this.#promptRoutes.set(prompt.name, { connection: single, name: prompt.name });
      }
      return result;
    }
    const prompts: unknown[] = [];
    for (const connection of this.#withCapability("prompts")) {
      const plan = this.#host.plan(connection.name) as UpstreamPlan;
      for (const prompt of await this.#all(connection, "prompts/list", "prompts", extra)) {
        const original = (prompt as { name: string }).name;
        const name = plan.exposedName(original);
        if (
          this.#promptRoutes.get(name)?.connection.name !== connection.name &&
          this.#promptRoutes.has(name)
        ) {
          this.#ctx.reportCollision(
            name,
            (this.#promptRoutes.get(name) as { connection: UpstreamConnection }).connection.name,
            connection.name,
          );
          continue;
        }
        this.#promptRoutes.set(name, { connection, name: original });
        prompts.push({ ...(prompt as object), name });
      }
    }
    return { prompts };
  }

  async getPrompt(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const name = params.name;
    if (typeof name !== "string") throw invalidParams("prompts/get needs a prompt name");
    let route = this.#promptRoutes.get(name);
    if (route === undefined) {
      await this.listPrompts({}, extra);
      route = this.#promptRoutes.get(name);
    }
    if (route === undefined) throw invalidParams(`Unknown prompt: ${name}`);
    return this.#host.forward(route.connection, "prompts/get", { ...params, name: route.name }, extra);
  }

  /** Every page of a list from one upstream (aggregated listings carry no cursor). */
  async #all(connection: UpstreamConnection, method: string, key: string, extra: Extra): Promise<unknown[]> {
    const items: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1_000; page++) {
      let result: Record<string, unknown>;
      try {
        result = await connection.request(method, cursor === undefined ? {} : { cursor }, {
          signal: extra.signal,
          timeout: NO_TIMEOUT_MS,
        });
      } catch (error) {
        this.#ctx.logger.warn(`upstream "${connection.name}": ${method} failed: ${plainMessage(error)}`);
        break;
      }
      const list = result[key];
      if (Array.isArray(list)) items.push(...list);
      cursor =
        typeof result.nextCursor === "string" && result.nextCursor !== "" ? result.nextCursor : undefined;
      if (cursor === undefined) break;
    }
    return items;
  }

  async listResources(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const single = this.#host.single();
    if (single !== undefined) {
      const result = await this.#host.forward(single, "resources/list", params, extra);
      for (const resource of (result.resources as Array<{ uri: string }> | undefined) ?? []) {
        this.#resourceRoutes.set(resource.uri, single);
      }
      return result;
    }
    const resources: unknown[] = [];
    for (const connection of this.#withCapability("resources")) {
      for (const resource of await this.#all(connection, "resources/list", "resources", extra)) {
        const uri = (resource as { uri: string }).uri;
        const owner = this.#resourceRoutes.get(uri);
        if (owner !== undefined && owner !== connection) {
          this.#ctx.reportCollision(uri, owner.name, connection.name);
          continue;
        }
        this.#resourceRoutes.set(uri, connection);
        resources.push(resource);
      }
    }
    return { resources };
  }

  async listTemplates(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const single = this.#host.single();
    if (single !== undefined) return this.#host.forward(single, "resources/templates/list", params, extra);
    const templates: unknown[] = [];
    for (const connection of this.#withCapability("resources")) {
      const list = await this.#all(connection, "resources/templates/list", "resourceTemplates", extra);
      this.#templates.set(
        connection,
        list.map((t) => new UriTemplate((t as { uriTemplate: string }).uriTemplate)),
      );
      templates.push(...list);
    }
    return { resourceTemplates: templates };
  }

  /** Which upstream serves a resource URI: listed URIs first, then URI templates, then the only candidate. */
  async resourceOwner(uri: unknown, extra: Extra): Promise<UpstreamConnection> {
    if (typeof uri !== "string") throw invalidParams("a resource request needs a uri");
    const single = this.#host.single();
    if (single !== undefined) return single;
    const known = this.#resourceRoutes.get(uri);
    if (known !== undefined) return known;
    const candidates = this.#withCapability("resources");
    if (candidates.length === 1) return candidates[0] as UpstreamConnection;
    if (this.#templates.size === 0) await this.listTemplates({}, extra);
    for (const connection of candidates) {
      for (const template of this.#templates.get(connection) ?? []) {
        try {
          if (template.match(uri) !== null) return connection;
        } catch {
          // a template the SDK cannot match: ignore it
        }
      }
    }
    await this.listResources({}, extra);
    const listed = this.#resourceRoutes.get(uri);
    if (listed !== undefined) return listed;
    throw new WireError(-32002, `Resource not found: ${uri}`);
  }

  async complete(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const ref = params.ref as { type?: string; name?: string; uri?: string } | undefined;
    if (ref?.type === "ref/prompt" && typeof ref.name === "string") {
      let route = this.#promptRoutes.get(ref.name);
      if (route === undefined) {
        await this.listPrompts({}, extra);
        route = this.#promptRoutes.get(ref.name);
      }
      if (route === undefined) throw invalidParams(`Unknown prompt: ${ref.name}`);
      return this.#host.forward(
        route.connection,
        "completion/complete",
        { ...params, ref: { ...ref, name: route.name } },
        extra,
      );
    }
    if (ref?.type === "ref/resource" && typeof ref.uri === "string") {
      const single = this.#host.single();
      if (single !== undefined) return this.#host.forward(single, "completion/complete", params, extra);
      if (this.#templates.size === 0) await this.listTemplates({}, extra);
      for (const connection of this.#withCapability("resources")) {
        const owns = (this.#templates.get(connection) ?? []).some((t) => t.toString() === ref.uri);
        if (owns) return this.#host.forward(connection, "completion/complete", params, extra);
      }
      return this.#host.forward(
        await this.resourceOwner(ref.uri, extra),
        "completion/complete",
        params,
        extra,
      );
    }
    throw invalidParams("completion/complete needs a ref/prompt or ref/resource");
  }

  async setLevel(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const targets = this.#withCapability("logging");
    const single = this.#host.single();
    if (single !== undefined && targets.length === 1)
      return this.#host.forward(single, "logging/setLevel", params, extra);
    await Promise.all(
      targets.map((connection) =>
        this.#host.forward(connection, "logging/setLevel", params, extra).catch((error) => {
          this.#ctx.logger.debug(`logging/setLevel on "${connection.name}" failed: ${plainMessage(error)}`);
        }),
      ),
    );
    return {};
  }
}
