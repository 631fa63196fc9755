// Channels in headless Chromium at phone size: a viewer opens the feed from Discover,
// a video plays (its currentTime grows, so range requests serve it), a like counts,
// "why am I seeing this?" opens, the post page takes a comment and a reply; a creator
// posts a clip from the studio (uploaded in pieces) and sees it processed.
//
// Usage: node channels.mjs BASE_URL VIEWER_NAME CREATOR_NAME CLIP_PATH SCREENSHOT_DIR
// Exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, viewerName, creatorName, clipPath, screenshots] = process.argv.slice(2);
if (!screenshots) {
  console.error("usage: node channels.mjs BASE_URL VIEWER_NAME CREATOR_NAME CLIP_PATH SCREENSHOT_DIR");
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

async function signIn(page, name) {
  if (page.url().includes("/signin")) {
    await page.click(`button[data-user="${name}"]`);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
  ],
});
try {
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 };
  const viewer = await (await browser.newContext(phone)).newPage();

  // From Discover to the feed.
  await viewer.goto(base + "/app/me");
  await signIn(viewer, viewerName);
  await viewer.waitForURL(/\/app\/me/);
  await viewer.goto(base + "/app/discover");
  await viewer.click("a[href='/app/channels']");
  await viewer.waitForSelector(".ch-card");
  const cards = await viewer.$$(".ch-card");
  check(cards.length >= 3, `the feed shows the posts (${cards.length})`);
  await viewer.screenshot({ path: screenshots + "/channels-feed.png" });

  // The first card's video plays and advances.
  const played = await viewer.evaluate(async () => {
    const video = document.querySelector(".ch-card video");
    video.muted = true;
    await video.play();
    const start = video.currentTime;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    return { start, later: video.currentTime, ready: video.readyState };
  });
  check(played.later > played.start, `the video advances (${played.start} → ${played.later})`);

  // A like counts; the explanation opens and adds up.
  const firstPost = await viewer.getAttribute(".ch-card", "data-post");
  await viewer.click(`.ch-card[data-post="${firstPost}"] .ch-like`);
  await viewer.waitForSelector(`.ch-card[data-post="${firstPost}"] .ch-like[aria-pressed="true"]`);
  check((await viewer.textContent(`.ch-card[data-post="${firstPost}"] .ch-like span`)).trim() === "1", "the like counts");
  await viewer.click(`.ch-card[data-post="${firstPost}"] .ch-why summary`);
  const why = await viewer.evaluate((id) => {
    const table = document.querySelector(`.ch-card[data-post="${id}"] .ch-why table`);
    const points = [...table.querySelectorAll("tbody tr td:last-child")].map((cell) => Number(cell.textContent));
    return { sum: points.reduce((a, b) => a + b, 0), score: Number(table.querySelector("[data-score]").textContent) };
  }, firstPost);
  check(Math.abs(why.sum - why.score) < 0.02, `the explanation adds up (${why.sum} ≈ ${why.score})`);
  await viewer.screenshot({ path: screenshots + "/channels-why.png" });

  // The post page: the player, a comment, a reply.
  await viewer.click(`.ch-card[data-post="${firstPost}"] .ch-caption`);
  await viewer.waitForSelector(".ch-post video");
  await viewer.fill("#ch-comment-form input[name=text]", "拍得真好 #好看");
  await viewer.click("#ch-comment-form button");
  await viewer.waitForSelector(".ch-comment:has-text('拍得真好')");
  await viewer.click(".ch-comment .ch-reply");
  await viewer.fill("#ch-comment-form input[name=text]", "同意");
  await viewer.click("#ch-comment-form button");
  await viewer.waitForSelector(".ch-replies .ch-comment:has-text('同意')");
  check((await viewer.textContent("#ch-comment-count")).trim() === "2", "the comment and its reply count");
  await viewer.screenshot({ path: screenshots + "/channels-post.png" });

  // The creator posts a clip from the studio and sees it processed.
  const creator = await (await browser.newContext(phone)).newPage();
  await creator.goto(base + "/app/channels/studio");
  await signIn(creator, creatorName);
  await creator.waitForSelector("#ch-upload");
  await creator.setInputFiles("#ch-upload input[type=file]", clipPath);
  await creator.fill("#ch-upload textarea", "从浏览器上传 #测试");
  await creator.click("#ch-upload button");
  await creator.waitForSelector("#ch-posts tr[data-state]:has-text('从浏览器上传')", { timeout: 30_000 });
  await creator.waitForSelector("#ch-posts tr[data-state=ready]:has-text('从浏览器上传')", { timeout: 60_000 });
  check(true, "the studio's upload is processed and published");
  const missing = await creator.$$eval("#ch-missing li", (items) => items.map((item) => item.textContent));
  check(missing.some((item) => item.startsWith("followers")), `the studio says what the incentive still needs (${missing})`);
  await creator.screenshot({ path: screenshots + "/channels-studio.png", fullPage: true });

  console.log("all checks passed");
} finally {
  await browser.close();
}
