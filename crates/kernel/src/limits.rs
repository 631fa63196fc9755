//! Limits on everything, with their units in their names and their reasons beside them.
//! Config may lower or raise the operator-facing ones within validated bounds.

/// Caller-chosen ids (account codes, transfer ids). 64 bytes fit a UUID with a prefix,
/// and keep every index entry small.
pub const ID_BYTES_MAX: usize = 64;

/// Transfers in one atomic batch. A batch is one unit of all-or-nothing work for one
/// caller (a payment with its fee and subsidy is 2–4 transfers); 1,000 leaves room for
/// bulk settlement while keeping one batch well under a millisecond of writer time.
pub const BATCH_TRANSFERS_MAX: usize = 1_000;

/// Transfers the group-commit writer puts into one database transaction. At ~10 µs of
/// writer time per transfer, 4,096 transfers hold the writer ~40 ms, the worst extra
/// latency a submitter can see from someone else's batch.
pub const COMMIT_TRANSFERS_MAX: usize = 4_096;

// One batch fits in one group: a group stops growing at the limit, so with a batch no
// larger than it a group holds fewer than twice the limit and the napkin math above
// stays within a factor of two.
const _: () = assert!(BATCH_TRANSFERS_MAX <= COMMIT_TRANSFERS_MAX);

/// Submissions waiting for the writer. Beyond this, submitters wait for room (back
/// pressure) instead of growing memory without bound: 16,384 × ~1 KiB = 16 MiB.
pub const WRITER_QUEUE_LEN_MAX: usize = 16_384;

/// Rows in one page of a listing (account history, outbox reads).
pub const PAGE_ROWS_MAX: usize = 500;

/// Default rows in one page when the caller does not say.
pub const PAGE_ROWS_DEFAULT: usize = 50;

// The default page is a page a caller may ask for.
const _: () = assert!(0 < PAGE_ROWS_DEFAULT && PAGE_ROWS_DEFAULT <= PAGE_ROWS_MAX);

/// Free text on a transfer (its memo). Enough for a sentence, not for a document.
pub const MEMO_BYTES_MAX: usize = 256;

/// Outbox payloads and job payloads. Events carry ids and small facts, not documents:
/// 64 KiB × the 4,096 events of the largest commit = 256 MiB worst case in one batch.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;

/// A domain record's body. Records are entities (an order, a merchant), not files. The
/// largest is a full WeCom customer group (500 members with their names and join facts,
/// at most ~400 bytes each), which 256 KiB holds with room; files go to the object store.
pub const RECORD_BYTES_MAX: usize = 256 * 1024;

/// Index entries on one record, and the bytes of one index value: enough for the few
/// ways an entity is looked up, small enough to keep index rows cheap.
pub const RECORD_INDEX_ENTRIES_MAX: usize = 16;

/// See [`RECORD_INDEX_ENTRIES_MAX`].
pub const INDEX_VALUE_BYTES_MAX: usize = 256;

/// Default request body limit: 1 MiB is far above any API request Plaza accepts.
pub const REQUEST_BODY_BYTES_DEFAULT: usize = 1024 * 1024;

/// Default time one HTTP request may take before it is answered with a timeout.
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// How many times a failing job is retried before it is parked as failed.
pub const JOB_ATTEMPTS_MAX: u32 = 10;

/// TLS handshakes in progress at once on drop-in mode's HTTPS listener. A handshake holds
/// a few KiB and a task: 1,024 × ~32 KiB = 32 MiB worst case, and a client that opens
/// connections without finishing them stalls new ones here instead of growing memory.
pub const TLS_HANDSHAKES_MAX: usize = 1_024;

/// How long a TLS handshake may take before the connection is dropped: ample for a
/// loopback or LAN client, short enough that a silent one gives its slot back soon.
pub const TLS_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// How long a payer's session lives without being used. A wallet is opened every few
/// days: 7 days keeps a regular payer signed in, while a token copied from a device that
/// then lies unused (a shared computer, a leaked log) stops working within a week.
/// Money never moves on a session alone above the password-free limit: paying asks for
/// the 6-digit password.
pub const SESSION_IDLE_MS: i64 = 7 * 86_400_000;

/// How long a payer's session lives at most, used or not: 30 days bounds what a stolen
/// token that is kept busy is worth; signing in again once a month costs a payer little.
pub const SESSION_AGE_MAX_MS: i64 = 30 * 86_400_000;

/// How stale a session's "last used" time may get before a request writes it again.
/// Writing on every request would cost one durable commit per page view; once per 15
/// minutes costs at most 1,000,000 active sessions / 900 s ≈ 1,100 small record writes a
/// second at the very worst (every session busy at once), far under the writer's
/// capacity, and makes a session end at most 15 minutes before its idle limit.
pub const SESSION_TOUCH_MS: i64 = 15 * 60_000;

// A session is touched well before it would go idle (so a session in use never ends
// idle), and goes idle before its age ends it (or the idle limit would mean nothing).
const _: () = assert!(0 < SESSION_TOUCH_MS && SESSION_TOUCH_MS < SESSION_IDLE_MS);
const _: () = assert!(SESSION_IDLE_MS < SESSION_AGE_MAX_MS);

/// How long the merchant demo's and the operator's sign-in cookies work. They are
/// HMAC-signed rather than stored, so signing out can only ask the browser to drop them
/// and a copied one works until it ends: 12 hours covers a working day at the console
/// and bounds what a copy is worth. Read on the wall clock.
pub const SIGNED_COOKIE_AGE_MAX_MS: i64 = 12 * 3_600_000;

/// The largest amount of money one order, refund, payment, coupon, split or top-up may
/// carry, in fen: 2^31 − 1 = ¥21,474,836.47. WeChat Pay's `total` is a 32-bit integer,
/// so no SDK sends more; and with every amount this small, a product with a rate in basis
/// points (≤ 10,000) stays below 2^45 and a sum of a day's orders far below `i64::MAX`.
pub const AMOUNT_MINOR_MAX: i64 = 2_147_483_647;

// WeChat's 32-bit `total`, and the headroom the doc above counts on: an amount times a
// rate in basis points stays below 2^45.
const _: () = assert!(AMOUNT_MINOR_MAX == i32::MAX as i64);
const _: () = assert!(AMOUNT_MINOR_MAX * 10_000 < 1 << 45);
