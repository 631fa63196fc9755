//! How [`PayService`] is put together: the payment core and the hooks that take part in
//! its payments, in the order they are called. The one module that knows them all, so
//! the core knows none of them and a new hook is one more line here.

use std::sync::Arc;

use plaza_kernel::clock::Clock;
use plaza_kernel::record::RecordStore;
use plaza_ledger::LedgerStore;

use crate::coupons::Coupons;
use crate::hooks::PaymentHook;
use crate::sandbox::Sandbox;
use crate::sealing::KeySealer;
use crate::service::PayService;

impl PayService {
    /// A service over the given stores, with coupons and the sandbox's scripts taking
    /// part in its payments. `secret` derives openids and `sealer` seals merchants' keys
    /// in their records; both must stay the same across restarts (they are kept in the
    /// data directory).
    pub fn new(
        ledger: Arc<dyn LedgerStore>,
        records: Arc<dyn RecordStore>,
        clock: Arc<dyn Clock>,
        secret: Vec<u8>,
        sealer: KeySealer,
    ) -> Self {
        let hooks: Vec<Arc<dyn PaymentHook>> = vec![
            Arc::new(Coupons::new(records.clone())),
            Arc::new(Sandbox::default()),
        ];
        Self::with_hooks(ledger, records, clock, secret, sealer, hooks)
    }
}
