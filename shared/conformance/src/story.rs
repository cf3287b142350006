//! Steps of a case's life that many scenarios share, through the use cases as staff would take them.

use mailbox_app::App;
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseId, DeadlineClass, DispatchMode, Role, UnitId};

/// The city's 信访局 (`xfj`) accepts a mayor's-mailbox case and transfers it to the transport bureau
/// (standard class); the bureau (`jtj`) receives it and replies with `text`, publicly or not.
pub async fn transferred_and_replied(app: &App, id: &CaseId, text: &str, public: bool) {
    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let jtj = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    app.act(&xfj, id, None, Command::Accept).await.unwrap();
    let transfer = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("transport"),
        co_handlers: vec![],
        class: DeadlineClass::Standard,
        special_days: None,
    };
    app.act(&xfj, id, None, transfer).await.unwrap();
    app.act(&jtj, id, None, Command::Receive).await.unwrap();
    app.act(&jtj, id, None, Command::Reply { text: text.into(), public }).await.unwrap();
}
