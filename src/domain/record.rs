//! The post-event record: each segment's planned times beside when it really ran.

use super::live::LiveState;
use super::show::RunOfShow;
use super::time::Millis;

/// One row of the record: a run of a segment, or a segment that never ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRun {
    pub segment: usize,
    pub planned_start: Millis,
    pub planned_ms: Millis,
    pub started_at: Option<Millis>,
    /// None while it is still running.
    pub ended_at: Option<Millis>,
}

impl SegmentRun {
    pub fn actual_ms(&self) -> Option<Millis> {
        Some(self.ended_at? - self.started_at?)
    }

    /// Positive when the segment started late.
    pub fn start_delay_ms(&self) -> Option<Millis> {
        Some(self.started_at? - self.planned_start)
    }

    /// Positive when the segment ran longer than planned.
    pub fn overrun_ms(&self) -> Option<Millis> {
        Some(self.actual_ms()? - self.planned_ms)
    }
}

/// Every run in the order it happened, then the segments that never ran, in plan order.
pub fn planned_vs_actual(show: &RunOfShow, live: &LiveState) -> Vec<SegmentRun> {
    let planned = |segment: usize, started_at, ended_at| {
        let s = &show.segments[segment];
        SegmentRun { segment, planned_start: s.planned_start, planned_ms: s.duration_ms, started_at, ended_at }
    };
    let mut rows: Vec<SegmentRun> = live
        .actual
        .iter()
        .filter(|run| run.segment < show.segments.len())
        .map(|run| planned(run.segment, Some(run.started_at), run.ended_at))
        .collect();
    for segment in 0..show.segments.len() {
        if !live.actual.iter().any(|run| run.segment == segment) {
            rows.push(planned(segment, None, None));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::live::ActualRun;
    use crate::domain::show::{EventInfo, Segment, SegmentKind};
    use crate::domain::text::Localized;

    fn segment(id: &str, planned_start: Millis, duration_ms: Millis) -> Segment {
        Segment {
            id: id.into(),
            kind: SegmentKind::Speech,
            title: Localized::same(id),
            chair: None,
            speakers: vec![],
            planned_start,
            duration_ms,
            speaking_limit_ms: None,
            warning_ms: 120_000,
            danger_ms: 30_000,
            cues: vec![],
            interpretation: vec![],
            av_notes: String::new(),
            join_url: None,
            qa: None,
            side_budgets: Default::default(),
        }
    }

    #[test]
    fn runs_come_in_order_and_unrun_segments_last() {
        let show = RunOfShow {
            event: EventInfo {
                id: "e".into(),
                title: Localized::same("e"),
                venue: Localized::same("v"),
                time_zone: "UTC".into(),
                languages: vec![],
                hybrid: false,
                planned_start: 0,
                planned_end: 300,
                standby_alert_ms: 10_000,
            },
            segments: vec![segment("a", 0, 100), segment("b", 100, 100), segment("c", 200, 100)],
            cue_presets: vec![],
            note_presets: vec![],
            short_links: vec![],
            branding: None,
            automations: vec![],
            qa: Default::default(),
            prepared_polls: vec![],
            sides: vec![],
        };
        let live = LiveState {
            actual: vec![
                ActualRun { segment: 0, started_at: 10, ended_at: Some(130) },
                ActualRun { segment: 1, started_at: 130, ended_at: None },
            ],
            ..LiveState::default()
        };
        let rows = planned_vs_actual(&show, &live);
        assert_eq!(rows.iter().map(|r| r.segment).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(rows[0].start_delay_ms(), Some(10));
        assert_eq!(rows[0].overrun_ms(), Some(20));
        assert_eq!(rows[1].actual_ms(), None, "still running");
        assert_eq!(rows[2].started_at, None);
    }
}
