//! Customer-service figures of a corp, the seed's measure: its conversations with
//! customers (1:1 and customer groups), their messages, interactions per hour over the
//! last day, and each member's median first response — the time from a customer's
//! message (the first one not yet answered) to the next message of a member.

use std::collections::HashMap;

use plaza_kernel::clock::Timestamp;

use crate::chat::{Conversation, HISTORY_PAGE_MAX};
use crate::model::{ChatMessage, GroupChat, MemberStatus};
use crate::store::{index, kind, with_prefix};
use crate::{WeCom, WeComError};

/// Messages read per conversation at most for the figures.
pub const MESSAGES_READ_MAX: usize = 10_000;
const HOUR_MS: i64 = 3_600_000;

/// One member's first responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    /// The member's userid.
    pub userid: String,
    /// Their name.
    pub name: String,
    /// Customer messages they answered first.
    pub answered: usize,
    /// The median time to that answer.
    pub median_ms: i64,
}

/// A corp's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpFigures {
    /// Members still in the corp.
    pub members: usize,
    /// Live member–customer relations.
    pub customers: usize,
    /// Customer groups.
    pub groups: usize,
    /// Conversations with customers that have at least one message.
    pub conversations: usize,
    /// Their messages.
    pub messages: usize,
    /// Messages in each of the last 24 hours, oldest first (the last is the current hour).
    pub per_hour: Vec<usize>,
    /// Members by median first response, fastest first.
    pub responders: Vec<Responder>,
}

fn is_customer(sender: &str) -> bool {
    sender.starts_with("wm")
}

fn is_member(sender: &str) -> bool {
    !is_customer(sender) && !sender.starts_with("agent:")
}

fn median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

impl WeCom {
    async fn all_messages(&self, conversation: &str) -> Result<Vec<ChatMessage>, WeComError> {
        let mut all = Vec::new();
        let mut after = 0;
        while all.len() < MESSAGES_READ_MAX {
            let page = self
                .history_after(conversation, after, HISTORY_PAGE_MAX)
                .await?;
            let full = page.len() == HISTORY_PAGE_MAX;
            after = page.last().map_or(after, |m| m.seq);
            all.extend(page);
            if !full {
                break;
            }
        }
        Ok(all)
    }

    /// Every conversation of the corp with customers (1:1 and groups), with the number
    /// of live relations and of groups.
    async fn customer_conversations(
        &self,
        corpid: &str,
        members: &[crate::model::Member],
    ) -> Result<(Vec<String>, usize, usize), WeComError> {
        let mut conversations = Vec::new();
        let mut customers = 0;
        for member in members.iter().filter(|m| m.status() != MemberStatus::Left) {
            for follow in self.customers_of(corpid, &member.userid).await? {
                customers += 1;
                conversations.push(
                    Conversation::Direct {
                        corpid: corpid.to_owned(),
                        userid: member.userid.to_ascii_lowercase(),
                        external_userid: follow.external_userid,
                    }
                    .id(),
                );
            }
        }
        let groups: Vec<GroupChat> = with_prefix(
            &*self.records,
            kind::GROUP_CHAT,
            index::CORP,
            &format!("{corpid}/"),
            100_000,
        )
        .await?;
        for group in &groups {
            conversations.push(
                Conversation::Group {
                    corpid: corpid.to_owned(),
                    chat_id: group.chat_id.clone(),
                }
                .id(),
            );
        }
        Ok((conversations, customers, groups.len()))
    }

    /// The corp's customer-service figures at `now`.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn figures(&self, corpid: &str, now: Timestamp) -> Result<CorpFigures, WeComError> {
        let members = self.all_members(corpid).await?;
        let names: HashMap<String, String> = members
            .iter()
            .map(|m| (m.userid.clone(), m.name.clone()))
            .collect();
        let (conversations, customers, groups) =
            self.customer_conversations(corpid, &members).await?;
        let mut figures = CorpFigures {
            members: members.len(),
            customers,
            groups,
            conversations: 0,
            messages: 0,
            per_hour: vec![0; 24],
            responders: Vec::new(),
        };
        let mut waits: HashMap<String, Vec<i64>> = HashMap::new();
        let hour_now = now.unix_ms().div_euclid(HOUR_MS);
        for conversation in conversations {
            let messages = self.all_messages(&conversation).await?;
            if messages.is_empty() {
                continue;
            }
            figures.conversations += 1;
            figures.messages += messages.len();
            tally(&messages, hour_now, &mut figures.per_hour, &mut waits);
        }
        figures.responders = waits
            .into_iter()
            .map(|(userid, mut times)| Responder {
                name: names
                    .get(&userid)
                    .cloned()
                    .unwrap_or_else(|| userid.clone()),
                answered: times.len(),
                median_ms: median(&mut times),
                userid,
            })
            .collect();
        figures
            .responders
            .sort_by_key(|r| (r.median_ms, r.userid.clone()));
        Ok(figures)
    }
}

/// Counts one conversation's messages into the hours of the last day and its first
/// responses into each member's waits.
fn tally(
    messages: &[ChatMessage],
    hour_now: i64,
    per_hour: &mut [usize],
    waits: &mut HashMap<String, Vec<i64>>,
) {
    let mut waiting_since: Option<i64> = None;
    for message in messages {
        let at = message.sent_at.unix_ms();
        let ago = hour_now - at.div_euclid(HOUR_MS);
        if let Ok(ago) = usize::try_from(ago)
            && ago < 24
        {
            per_hour[23 - ago] += 1;
        }
        if is_customer(&message.sender) {
            waiting_since.get_or_insert(at);
        } else if is_member(&message.sender)
            && let Some(since) = waiting_since.take()
        {
            waits
                .entry(message.sender.clone())
                .or_default()
                .push(at - since);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_told_apart_and_medians_are_the_middle() {
        assert!(is_customer("wm0123"));
        assert!(is_member("zhangsan") && !is_member("agent:1000002") && !is_member("wm1"));
        assert_eq!(median(&mut [30, 10, 20]), 20);
        assert_eq!(median(&mut []), 0);
    }
}
