// A live room in headless Chromium with its fake camera: a creator goes live from the
// browser (getUserMedia + MediaRecorder over the publish socket); two viewers in other
// contexts see the video advance (Media Source Extensions), see each other's comments;
// one sends a gift.
//
// Usage: node channels-live.mjs BASE_URL HOST_NAME VIEWER_A VIEWER_B SCREENSHOT_DIR
// Exits non-zero on the first failed check; prints "room <id>" for the caller.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, hostName, viewerA, viewerB, screenshots] = process.argv.slice(2);
if (!screenshots) {
  console.error("usage: node channels-live.mjs BASE_URL HOST_NAME VIEWER_A VIEWER_B SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(screenshots, { recursive: true });

function check(condition, message) {
  if (!condition) {
    console.error("FAILED: " + message);
    process.exit(1);
  }
  console.log("ok: " + message);
}

async function signedIn(context, name, path) {
  const page = await context.newPage();
  await page.goto(base + "/app/me");
  if (page.url().includes("/signin")) {
    await page.click(`button[data-user="${name}"]`);
    await page.waitForURL(/\/app\/me/);
  }
  await page.goto(base + path);
  return page;
}

async function advances(page, label) {
  await page.waitForFunction(() => document.getElementById("ch-live-video").currentTime > 0, null, { timeout: 30_000 });
  const start = await page.evaluate(() => document.getElementById("ch-live-video").currentTime);
  await page.waitForTimeout(2_000);
  const later = await page.evaluate(() => document.getElementById("ch-live-video").currentTime);
  check(later > start + 0.5, `${label} sees the video advance (${start.toFixed(2)} → ${later.toFixed(2)})`);
}

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
  ],
});
try {
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 };
  const hostContext = await browser.newContext({ ...phone, permissions: ["camera", "microphone"] });
  const host = await signedIn(hostContext, hostName, "/app/channels/studio/live");
  await host.fill("#ch-go-live input[name=title]", "周末排练直播");
  await host.click("#ch-go-live button");
  await host.waitForFunction(() => document.getElementById("ch-host").dataset.room, null, { timeout: 20_000 });
  const room = await host.evaluate(() => document.getElementById("ch-host").dataset.room);
  console.log("room " + room);
  await host.waitForFunction(() => document.getElementById("ch-live-state").textContent.includes("On air"));

  const a = await signedIn(await browser.newContext(phone), viewerA, `/app/channels/live/${room}`);
  const b = await signedIn(await browser.newContext(phone), viewerB, `/app/channels/live/${room}`);
  await advances(a, "the first viewer");
  await advances(b, "the second viewer");

  await a.fill("#ch-live-composer input[name=text]", "来了来了");
  await a.press("#ch-live-composer input[name=text]", "Enter");
  await b.waitForSelector("#ch-live-chat li:has-text('来了来了')", { timeout: 15_000 });
  await b.fill("#ch-live-composer input[name=text]", "你好呀");
  await b.press("#ch-live-composer input[name=text]", "Enter");
  await a.waitForSelector("#ch-live-chat li:has-text('你好呀')", { timeout: 15_000 });
  check(true, "each viewer sees the other's comment");
  await host.waitForSelector("#ch-live-chat li:has-text('你好呀')", { timeout: 15_000 });
  check(true, "the host sees the chat");

  await b.click(".ch-gift[data-gift=rose]");
  await b.waitForFunction(() => document.getElementById("ch-gift-status").textContent !== "", null, { timeout: 15_000 });
  const giftStatus = await b.textContent("#ch-gift-status");
  check(giftStatus.includes("Sent"), `the gift is sent (${giftStatus})`);
  await a.waitForSelector("#ch-live-chat li.gift", { timeout: 15_000 });
  check(true, "a gift is sent and the room sees it");
  await a.screenshot({ path: screenshots + "/channels-live-viewer.png" });
  await host.screenshot({ path: screenshots + "/channels-live-host.png" });

  await host.click("#ch-end");
  await a.waitForFunction(() => document.getElementById("ch-live-state").textContent.includes("ended"), null, { timeout: 15_000 });
  check(true, "the room closes for its viewers");
  console.log("all checks passed");
} finally {
  await browser.close();
}
