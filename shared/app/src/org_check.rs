//! A changed organisation must not strand open cases: every mailbox, jurisdiction and unit an open
//! case refers to must still be in it. Checked when a server starts with an organisation file
//! (`mailbox serve --org`; on AWS each function instance started with `ORG_CONFIG`).

use crate::error::AppError;
use crate::ports::{CaseQuery, Scope};
use crate::App;
use mailbox_domain::CaseStatus;
use std::collections::BTreeMap;

/// The organisation of `file`, or Guang'an's without one; the error names the file, the line and
/// the field (`mailbox serve --org`, `ORG_CONFIG` on AWS).
pub fn load_organisation(file: Option<&std::path::Path>) -> Result<mailbox_domain::Organisation, String> {
    let Some(file) = file else { return Ok(mailbox_domain::Organisation::guangan()) };
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    mailbox_domain::Organisation::from_toml(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// Cases read per page while walking the open cases.
const PAGE: usize = 500;

impl App {
    /// What open cases (replied ones included) refer to that the organisation lacks, each with the number of open cases
    /// that refer to it (`unit \`water\``, 3), sorted; empty when the organisation fits them all.
    pub async fn references_outside_organisation(&self) -> Result<Vec<(String, usize)>, AppError> {
        let org = &self.org;
        // Replied cases too: a citizen's rating may reopen them to the same units.
        let open: Vec<CaseStatus> =
            CaseStatus::ALL.into_iter().filter(|s| !matches!(s, CaseStatus::Invalid | CaseStatus::Closed)).collect();
        let mut missing: BTreeMap<String, usize> = BTreeMap::new();
        let mut after = None;
        loop {
            let query = CaseQuery {
                scope: Scope::All,
                statuses: open.clone(),
                limit: PAGE,
                after: after.take(),
                ..CaseQuery::default()
            };
            let page = self.store.list(&query).await?;
            for case in &page.cases {
                let mut refs = Vec::new();
                if org.mailbox(&case.mailbox).is_none() {
                    refs.push(format!("mailbox `{}`", case.mailbox));
                }
                if org.jurisdiction(&case.jurisdiction).is_none() {
                    refs.push(format!("jurisdiction `{}`", case.jurisdiction));
                }
                let units = std::iter::once(&case.dispatcher)
                    .chain(case.dispatch.iter().flat_map(|d| std::iter::once(&d.lead).chain(&d.co_handlers)));
                refs.extend(units.filter(|u| org.unit(u).is_none()).map(|u| format!("unit `{u}`")));
                refs.sort();
                refs.dedup();
                for r in refs {
                    *missing.entry(r).or_default() += 1;
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(missing.into_iter().collect())
    }
}
