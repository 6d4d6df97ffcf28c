// Re-runnable: plays the demo, serves its dashboard, and screenshots it in Chromium into
// packages/dashboard/docs/. Usage: pnpm run build && node packages/demo/scripts/dashboard-screenshots.mjs
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDashboard } from "@agent-sre/dashboard";
import { chromium } from "playwright-core";
import { runDemo } from "../dist/index.js";

const docs = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dashboard", "docs");
mkdirSync(docs, { recursive: true });
const quiet = { write: () => true, isTTY: false };

let server;
await runDemo({
  output: quiet,
  color: false,
  interactive: false,
  // Served from the start, so the page has every decision and alert of the run.
  onFleet: async (fleet) => {
    server = await serveDashboard(fleet.sre, {
      title: "Agent SRE demo",
      framework: (agentId) => fleet.frameworkOf(agentId),
    });
  },
  hold: async () => {
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
      await page.goto(server.url);
      await page.locator('[data-testid="connection"]', { hasText: "live" }).waitFor({ timeout: 60_000 });
      await page.screenshot({ path: join(docs, "dashboard.png"), fullPage: true });
      await page.locator('tr[data-agent="report-writer"]').click();
      await page.locator("#decisions tbody tr").first().waitFor({ timeout: 30_000 });
      await page.locator("#detail").screenshot({ path: join(docs, "dashboard-agent.png") });
      console.log(`wrote ${join(docs, "dashboard.png")} and dashboard-agent.png`);
    } finally {
      await browser.close();
      await server.close();
    }
  },
});
