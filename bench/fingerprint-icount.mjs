// Instructions of the argument fingerprint per call and argument shape (issue 18, session 17 "fingerprint"), for
// valgrind: after a warm-up, `calls` fingerprints of one shape between two `process.cpuUsage()` (the arguments
// are built before the window, so the window holds the fingerprint calls and a loop around them):
//   valgrind --tool=callgrind --smc-check=all-non-file --dump-before=uv_getrusage \
//     node --expose-gc --predictable bench/fingerprint-icount.mjs <dist> <shape> <calls>
// The dump taken at the second `cpuUsage` (callgrind.out.<pid>.2) holds the window; its total over `calls`,
// less the same window with shape `none` (the loop and a no-op call: `<shape>` = none:<shape>), is the
// fingerprint's instructions a call. The tool name is the bench's five in turn. Shapes (every object fresh per
// call, as a tool call's arguments are):
//   bench   { orderId: <fresh integer>, fields: FIELDS }: the bench's toolArgs (one shared array)
//   fresh   the same from JSON.parse, per call (an LLM's arguments: fresh arrays, parsed strings)
//   query   { query: "<40-char sentence>", limit: 10 } from JSON.parse (the sentence fixed, the object fresh)
//   queries the same with a different sentence per call
//   nested  { filter: { status: "open", tags: ["a", "b"] }, page: <i % 50> } from JSON.parse
//   mixed   the shapes in turn (a server with several tools: the fingerprint's code sees them all)
// WARM=all warms with every shape before the measured one (polymorphic feedback, as `mixed`).
// Without valgrind it prints ns CPU per call (a rough figure: use the A/B scripts for time).
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [dist = "core/dist", shapeArg = "bench", callsArg = "20000"] = process.argv.slice(2);
const fp = await import(pathToFileURL(resolve(dist, "rogue/fingerprint.js")).href);
const calls = Number(callsArg);
const baseline = shapeArg.startsWith("none:");
const shape = baseline ? shapeArg.slice(5) : shapeArg;

const FIELDS = ["status", "eta"];
const SENTENCES = [
  "how do I reset my password on the portal",
  "where is my order placed last tuesday now",
  "list open invoices for the acme account q3",
  "what is the refund policy for damaged goods",
];
let sequence = 0;
const makers = {
  bench: () => ({ orderId: sequence++, fields: FIELDS }),
  fresh: () => JSON.parse(`{"orderId":${sequence++},"fields":["status","eta"]}`),
  query: () => JSON.parse(`{"query":"${SENTENCES[0]}","limit":10}`),
  queries: () => JSON.parse(`{"query":"${SENTENCES[sequence++ % 4]} ${sequence % 1000}","limit":10}`),
  nested: () => JSON.parse(`{"filter":{"status":"open","tags":["a","b"]},"page":${sequence++ % 50}}`),
};
const names = Object.keys(makers);
let turn = 0;
makers.mixed = () => makers[names[turn++ % names.length]]();
if (makers[shape] === undefined) {
  console.error(`shape: one of ${Object.keys(makers).join(", ")} (or none:<shape>)`);
  process.exit(2);
}
const build = (maker, n) => Array.from({ length: n }, maker);
const SALT = 0x2545f491; // a task's salt, as the detector passes one
const BUDGET = fp.DEFAULT_FINGERPRINT_BUDGET;
let sink = 0;
// The bench's five tool names in turn (fixtures.mjs TOOLS).
const TOOLS = ["search", "lookup_order", "send_email", "fetch_page", "summarise"];
let tool = 0;
const call = baseline
  ? (args) => {
      sink ^= args === null ? TOOLS[tool++ % 5].length : 0;
    }
  : (args) => {
      sink ^= fp.fingerprintLow(TOOLS[tool++ % 5], args, BUDGET, SALT) ^ fp.fingerprintHigh();
    };
// Warm-up: the measured shape (after every shape with WARM=all), long enough for the optimizing tier.
if (process.env.WARM === "all")
  for (const name of names) for (const a of build(makers[name], 20_000)) call(a);
for (let round = 0; round < 3; round++) for (const a of build(makers[shape], 20_000)) call(a);
const inputs = build(makers[shape], calls);
globalThis.gc?.();
const start = process.cpuUsage();
for (let i = 0; i < calls; i++) call(inputs[i]);
const used = process.cpuUsage(start);
console.log(
  `${shapeArg}: ${(((used.user + used.system) * 1000) / calls).toFixed(1)} ns CPU per call (sink ${sink & 1})`,
);
