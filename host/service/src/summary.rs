//! The gateway's financial summary (volume, refunds, fees, disputes) over a period, in one
//! currency.

use crate::error::Error;
use crate::ledger::Ts;
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::{FinancialSummary, TimeRange};

impl Service {
    /// The gateway's financial summary for `[from, to)` in `currency`.
    pub async fn summary(
        &self,
        gateway: Option<&str>,
        from: Ts,
        to: Ts,
        currency: &str,
    ) -> Result<FinancialSummary, Error> {
        let gateway = self.gateway_name(gateway)?;
        self.check_currency(currency, Some(&gateway))?;
        if from >= to {
            return Err(Error::invalid("to", "must be after `from`"));
        }
        let slot = self.slot(&gateway)?;
        slot.call("summarize", RetryPolicy::INTERACTIVE, |g| {
            let c = currency.to_string();
            async move {
                g.summarize(
                    TimeRange {
                        start: from,
                        end: to,
                    },
                    &c,
                )
                .await
            }
        })
        .await
        .map_err(|e| Error::from_call(&e))
    }
}
