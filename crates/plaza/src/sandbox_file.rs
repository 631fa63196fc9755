//! `<data-dir>/sandbox.toml`: scripted outcomes and fault plans per merchant, read at
//! start in sandbox mode, so a CI run can set them up without calling `/api/v1`.
//!
//! ```toml
//! [[merchant.1600000001.rules]]
//! amount_ends_with = "03"
//! payment = "userpaying"
//! polls = 2
//!
//! [merchant.1600000001.faults]
//! drop_first = 2
//! ```
//!
//! Each merchant named replaces its script (and its fault plan, when `faults` is given)
//! with the file's. A malformed file stops the start with the place of the mistake; a
//! merchant that does not exist (yet) is reported and skipped.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use plaza_pay::sandbox::{FaultPlan, Script, ScriptRule};
use plaza_pay::{PayError, PayService};
use serde::Deserialize;

/// The file's name in the data directory.
pub(crate) const SANDBOX_FILE: &str = "sandbox.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxFile {
    #[serde(default)]
    merchant: BTreeMap<String, MerchantSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantSection {
    #[serde(default)]
    rules: Vec<ScriptRule>,
    faults: Option<FaultPlan>,
}

/// Reads `<data_dir>/sandbox.toml` if present and applies it; returns how many
/// merchants it set up.
pub(crate) async fn apply(pay: &PayService, data_dir: &Path) -> anyhow::Result<usize> {
    let path = data_dir.join(SANDBOX_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    let file = parse(&text).with_context(|| format!("{} is not valid", path.display()))?;
    let mut applied = 0;
    for (mchid, section) in file.merchant {
        let script = Script {
            rules: section.rules,
        };
        let result = async {
            pay.set_script(&mchid, script).await?;
            if let Some(plan) = section.faults {
                pay.set_faults(&mchid, plan).await?;
            }
            Ok::<(), PayError>(())
        }
        .await;
        match result {
            Ok(()) => applied += 1,
            Err(PayError::MerchantNotFound { .. }) => {
                tracing::warn!(%mchid, file = %path.display(), "sandbox file names an unknown merchant; skipped");
                eprintln!(
                    "plaza: {}: merchant {mchid} does not exist; its section was skipped",
                    path.display()
                );
            }
            Err(error) => {
                return Err(anyhow::anyhow!(
                    "{}: merchant.{mchid}: {error}",
                    path.display()
                ));
            }
        }
    }
    Ok(applied)
}

fn parse(text: &str) -> Result<SandboxFile, toml::de::Error> {
    toml::from_str(text)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;
    use plaza_pay::sandbox::{ScriptedPayment, ScriptedRefund};

    #[test]
    fn merchants_rules_and_faults_are_read() {
        let file = parse(
            "[[merchant.1600000001.rules]]\namount_ends_with = \"03\"\npayment = \"userpaying\"\npolls = 2\n\n\
             [[merchant.1600000001.rules]]\nrefund = \"abnormal\"\n\n\
             [merchant.1600000001.faults]\ndrop_first = 2\nduplicate = true\n",
        )
        .unwrap();
        let section = &file.merchant["1600000001"];
        assert_eq!(section.rules.len(), 2);
        assert_eq!(section.rules[0].payment, Some(ScriptedPayment::Userpaying));
        assert_eq!(section.rules[0].polls, Some(2));
        assert_eq!(section.rules[1].refund, Some(ScriptedRefund::Abnormal));
        let faults = section.faults.as_ref().unwrap();
        assert_eq!(faults.drop_first, 2);
        assert!(faults.duplicate);
    }

    #[test]
    fn mistakes_are_placed() {
        let error = parse("[[merchant.1.rules]]\npayment = \"maybe\"\n").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(parse("[merchant.1]\nunknown = 1\n").is_err());
    }
}
