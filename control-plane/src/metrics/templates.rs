//! `breakout_template_live_version{item}`: the live version number of each list template, from
//! the replicated state at scrape time (so every node shows it, polling or not; 0 = none yet).

use prometheus::{IntGaugeVec, Opts, Registry};

use crate::contracts::TemplateItem;
use crate::state::State;

pub struct TemplateGauges {
    live: IntGaugeVec,
}

impl TemplateGauges {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let live = IntGaugeVec::new(
            Opts::new(
                "breakout_template_live_version",
                "Live version number of a list template (0: none recorded yet)",
            ),
            &["item"],
        )?;
        registry.register(Box::new(live.clone()))?;
        Ok(TemplateGauges { live })
    }

    pub fn show(&self, state: &State) {
        for item in TemplateItem::ALL {
            let live = state.templates.get(item).and_then(|r| r.live).unwrap_or(0);
            self.live
                .with_label_values(&[item.as_str()])
                .set(i64::from(live));
        }
    }
}
