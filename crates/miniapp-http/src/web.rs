//! What Mini Programs put into the user app: the "Service notifications" conversation in
//! Chats, one notice per subscribe message, each opening its page in the container.

use std::sync::Arc;

use plaza_http::web::{AppUser, Conversation, ConversationSummary, Notice, UserApp};
use plaza_kernel::BoxFuture;
use plaza_miniapp::{MiniApps, ServiceMessage};

/// The conversation's id: its page is `/app/chats/service-notifications`.
pub const CONVERSATION_ID: &str = "service-notifications";
const CONVERSATION_TITLE: &str = "服务通知 Service notifications";
/// Notices shown in the conversation.
const NOTICES_MAX: usize = 100;

/// Mini Programs' port into the user app.
pub struct MiniAppWeb {
    miniapps: Arc<MiniApps>,
}

impl MiniAppWeb {
    /// Over the domain.
    pub fn new(miniapps: Arc<MiniApps>) -> Self {
        Self { miniapps }
    }

    async fn messages(&self, user_id: &str, rows_max: usize) -> Vec<ServiceMessage> {
        self.miniapps
            .messages_of(user_id, rows_max)
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%error, "reading service notifications");
                Vec::new()
            })
    }
}

/// Where a message opens: its page in the container, or the app's first page.
pub fn message_link(message: &ServiceMessage) -> String {
    match &message.page {
        Some(page) => format!("/app/mp/{}/{}", message.appid, page.trim_start_matches('/')),
        None => format!("/app/mp/{}", message.appid),
    }
}

fn notice(message: &ServiceMessage) -> Notice {
    Notice {
        at: message.sent_at,
        heading: message.title.clone(),
        amount_minor: None,
        rows: message.rows.clone(),
        reference: Some(("来自 From".to_owned(), message.app_name.clone())),
        link: Some((
            message_link(message),
            "进入小程序 Open the mini program".to_owned(),
        )),
    }
}

impl UserApp for MiniAppWeb {
    fn conversations<'a>(&'a self, user: &'a AppUser) -> BoxFuture<'a, Vec<ConversationSummary>> {
        Box::pin(async move {
            let latest = self.messages(&user.user_id, 1).await;
            let Some(latest) = latest.first() else {
                return Vec::new();
            };
            vec![ConversationSummary {
                id: CONVERSATION_ID.to_owned(),
                title: CONVERSATION_TITLE.to_owned(),
                icon: "通",
                preview: format!("{} · {}", latest.title, latest.app_name),
                at: Some(latest.sent_at),
                link: None,
                unread: 0,
            }]
        })
    }

    fn conversation<'a>(
        &'a self,
        user: &'a AppUser,
        id: &'a str,
    ) -> BoxFuture<'a, Option<Conversation>> {
        Box::pin(async move {
            if id != CONVERSATION_ID {
                return None;
            }
            let messages = self.messages(&user.user_id, NOTICES_MAX).await;
            Some(Conversation {
                title: CONVERSATION_TITLE.to_owned(),
                about: "Messages mini programs send you after you allowed them, one per consent."
                    .to_owned(),
                notices: messages.iter().map(notice).collect(),
            })
        })
    }

    fn me_cards<'a>(&'a self, _user: &'a AppUser) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async { Vec::new() })
    }
}
