//! One module per resource; each starts with its `router()`.

pub(crate) mod collect;
pub(crate) mod coupons;
pub(crate) mod partner;
pub(crate) mod pay;
pub(crate) mod paycode;
pub(crate) mod report;
pub(crate) mod sandbox;
