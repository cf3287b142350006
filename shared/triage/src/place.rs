//! Jurisdiction from place names: the organisation config lists the towns, streets and landmarks of
//! each district and county; a message naming them is suggested for that jurisdiction.

use crate::Suggestion;
use mailbox_domain::{JurisdictionId, Organisation};

pub struct Gazetteer {
    /// (place, jurisdiction), longest place first, so 九龙街道 is matched before a shorter name
    /// inside it.
    places: Vec<(String, JurisdictionId)>,
}

impl Gazetteer {
    pub fn new(org: &Organisation) -> Gazetteer {
        let mut places: Vec<(String, JurisdictionId)> =
            org.jurisdictions.iter().flat_map(|j| j.places.iter().map(|p| (p.clone(), j.id.clone()))).collect();
        places.sort_by(|a, b| b.0.chars().count().cmp(&a.0.chars().count()).then(a.0.cmp(&b.0)));
        Gazetteer { places }
    }

    /// The jurisdiction most of the named places belong to; `None` if no place is named.
    pub fn suggest(&self, title: &str, body: &str) -> Option<Suggestion<JurisdictionId>> {
        let mut text = format!("{title}\n{body}");
        let mut hits: Vec<(JurisdictionId, Vec<String>, usize)> = Vec::new();
        for (place, jurisdiction) in &self.places {
            let n = text.matches(place.as_str()).count();
            if n == 0 {
                continue;
            }
            // Blank the match out so a shorter name inside it is not counted again.
            text = text.replace(place.as_str(), "\u{3000}");
            match hits.iter_mut().find(|h| &h.0 == jurisdiction) {
                Some(h) => {
                    h.1.push(place.clone());
                    h.2 += n;
                }
                None => hits.push((jurisdiction.clone(), vec![place.clone()], n)),
            }
        }
        let total: usize = hits.iter().map(|h| h.2).sum();
        let (jurisdiction, words, n) = hits.into_iter().max_by_key(|h| h.2)?;
        Some(Suggestion { value: jurisdiction, confidence: (n * 100 / total) as u8, words })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_street_in_linshui_suggests_linshui() {
        let g = Gazetteer::new(&Organisation::guangan());
        let s = g.suggest("鼎屏镇某小区噪音扰民", "家住鼎屏镇，楼下夜宵店每晚营业到凌晨。").expect("suggestion");
        assert_eq!(s.value.as_str(), "linshui");
        assert_eq!(s.words, vec!["鼎屏镇".to_owned()]);
        assert_eq!(s.confidence, 100);
    }

    #[test]
    fn same_short_name_in_two_counties_is_told_apart() {
        let g = Gazetteer::new(&Organisation::guangan());
        assert_eq!(g.suggest("九龙街道路灯不亮", "").unwrap().value.as_str(), "yuechi");
        assert_eq!(g.suggest("九龙镇路灯不亮", "").unwrap().value.as_str(), "linshui");
    }

    #[test]
    fn no_place_no_suggestion() {
        assert!(Gazetteer::new(&Organisation::guangan()).suggest("路灯不亮", "晚上很黑").is_none());
    }
}
