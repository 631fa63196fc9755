//! What Channels needs from outside: media tools (`ffprobe`/`ffmpeg`, run by
//! `plaza-media`; tests may give fakes) and money (people's wallets and the operator's
//! funding source, which are Pay's accounts: the binary fills the port from Pay).

use plaza_kernel::BoxFuture;
use plaza_media::{ImageFacts, MediaError, ProcessedVideo, Tools};

/// Reads, converts and hashes media.
pub trait MediaTools: Send + Sync {
    /// Whether the tools run on this server now.
    fn check(&self) -> BoxFuture<'_, Result<(), MediaError>>;
    /// A video's facts, poster, browser copy and frame hashes.
    fn process_video(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<ProcessedVideo, MediaError>>;
    /// An image's size and codec.
    fn image_facts(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<ImageFacts, MediaError>>;
}

impl MediaTools for Tools {
    fn check(&self) -> BoxFuture<'_, Result<(), MediaError>> {
        Box::pin(Tools::check(self))
    }

    fn process_video(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<ProcessedVideo, MediaError>> {
        Box::pin(async move { Tools::process_video(self, &bytes).await })
    }

    fn image_facts(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<ImageFacts, MediaError>> {
        Box::pin(async move { Tools::image_facts(self, &bytes).await })
    }
}

/// Where Channels' money comes from and goes: ledger account names of Pay's.
pub trait Money: Send + Sync {
    /// The account the operator's funding comes in from (the outside world).
    fn funding_source(&self) -> String;
    /// The wallet account of a person, or why they have none.
    fn wallet<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<String, String>>;
}
