#!/usr/bin/env node
/**
 * The demo's misbehaving upstream: a real MCP server (stdio) for an inventory service. Its tools depend on
 * a "database" that the demo can take down and bring back by writing `down` or `up` to the file named by
 * `INVENTORY_FAULT_FILE` (read on every call, so the switch is immediate and needs no extra channel). While
 * down, every tool answers `isError` quickly, like a service whose backend refuses connections.
 *
 *   get_stock {sku}               units in stock
 *   reserve_item {sku, orderId}   holds a unit for an order
 *   get_price {sku}               unit price in USD
 *   quote_shipping {sku, zip}     shipping quote in USD
 */
import { readFileSync } from "node:fs";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const faultFile = process.env.INVENTORY_FAULT_FILE;

function databaseDown(): boolean {
  if (faultFile === undefined) return false;
  try {
    return readFileSync(faultFile, "utf8").trim() === "down";
  } catch {
    return false;
  }
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

type Answer = { content: Array<{ type: "text"; text: string }>; isError?: boolean };

function answer(compute: () => unknown): Answer {
  if (databaseDown()) {
    return {
      content: [{ type: "text", text: "inventory database unavailable: connect ECONNREFUSED 10.0.3.7:5432" }],
      isError: true,
    };
  }
  return { content: [{ type: "text", text: JSON.stringify(compute()) }] };
}

const server = new McpServer({ name: "inventory", version: "1.0.0" }, { capabilities: { tools: {} } });
const sku = z.string().describe("Stock-keeping unit, e.g. SKU-1042");

server.registerTool(
  "get_stock",
  { description: "Units in stock for a SKU.", inputSchema: { sku } },
  async (args) => answer(() => ({ sku: args.sku, inStock: hash(args.sku) % 40 })),
);
server.registerTool(
  "reserve_item",
  { description: "Reserves one unit of a SKU for an order.", inputSchema: { sku, orderId: z.string() } },
  async (args) => answer(() => ({ sku: args.sku, orderId: args.orderId, reserved: true })),
);
server.registerTool(
  "get_price",
  { description: "Unit price of a SKU in USD.", inputSchema: { sku } },
  async (args) => answer(() => ({ sku: args.sku, priceUsd: 5 + (hash(args.sku) % 9000) / 100 })),
);
server.registerTool(
  "quote_shipping",
  { description: "Shipping quote for a SKU to a ZIP code.", inputSchema: { sku, zip: z.string() } },
  async (args) =>
    answer(() => ({ sku: args.sku, zip: args.zip, costUsd: 4 + (hash(args.sku + args.zip) % 1200) / 100 })),
);

await server.connect(new StdioServerTransport());
