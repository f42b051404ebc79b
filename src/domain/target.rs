//! What a command acts on, decoded and checked against the plan before anything moves: a
//! show transition, a queue, a cue, the stage screen, or an edit of the plan.

use super::command::Command;
use super::cues::{CueOp, CueTarget, SignalKind};
use super::live::ShowOp;
use super::plan::PlanOp;
use super::queue::{self, QueueOp};
use super::rejection::Rejection;
use super::show::RunOfShow;
use super::sides;
use super::text::{self, Localized};
use super::time::Millis;

fn queue(name: &str, version: Option<u64>, op: QueueOp) -> Result<Target<'_>, Rejection> {
    Ok(Target::Queue { name, version, op })
}

/// What a command acts on, decoded.
pub(super) enum Target<'a> {
    Show { version: u64, op: ShowOp },
    Queue { name: &'a str, version: Option<u64>, op: QueueOp },
    Cue(CueOp),
    Stage(Option<StageSignal>),
}

/// A signal to the speaker, decoded.
pub(super) struct StageSignal {
    pub(super) kind: SignalKind,
    pub(super) text: Option<String>,
    pub(super) pinned: bool,
    pub(super) speaker: Option<usize>,
}

const MAX_STAGE_TEXT_CHARS: usize = 140;

impl Command {
    const MAX_EXTEND_SECONDS: i32 = 3600;
    const SPEAKING_LIMIT_S: std::ops::RangeInclusive<u32> = 10..=3600;

    /// For a plan edit: the plan version it was made against, and the edit (none for an
    /// undo, which restores the plan before the latest edit).
    pub(super) fn plan_edit(&self) -> Option<(u64, Option<PlanOp<'_>>)> {
        Some(match self {
            Command::PlanAddSegment(add) => (add.plan_version, Some(PlanOp::Add(add))),
            Command::PlanDuplicateSegment { plan_version, segment, new_segment } => {
                (*plan_version, Some(PlanOp::Duplicate { segment, id: new_segment.as_deref() }))
            }
            Command::PlanRemoveSegment { plan_version, segment } => (*plan_version, Some(PlanOp::Remove(segment))),
            Command::PlanMoveSegment { plan_version, segment, after } => {
                (*plan_version, Some(PlanOp::Move { segment, after: after.as_deref() }))
            }
            Command::PlanUpdateSegment(update) => (update.plan_version, Some(PlanOp::Update(update))),
            Command::PlanUpdateEvent(update) => (update.plan_version, Some(PlanOp::Event(update))),
            Command::PlanUndo { plan_version } => (*plan_version, None),
            Command::PlanReplace { plan_version, plan, .. } => (*plan_version, Some(PlanOp::Replace(plan))),
            Command::PlanUpdateAutomations { plan_version, automations } => {
                (*plan_version, Some(PlanOp::Automations(automations)))
            }
            Command::PlanUpdateShortLinks { plan_version, short_links } => {
                (*plan_version, Some(PlanOp::ShortLinks(short_links)))
            }
            _ => return None,
        })
    }

    pub(super) fn target(&self, show: &RunOfShow) -> Result<Target<'_>, Rejection> {
        match self {
            Command::QueueRequest { queue: name, kind, topic, side } => {
                let topic = queue::parse_topic(topic.as_deref())?;
                if let Some(side) = side {
                    sides::known(show, side)?;
                }
                queue(name, None, QueueOp::Request { kind: *kind, topic, side: side.clone(), speaker: None })
            }
            Command::QueueWithdraw { queue: name } => queue(name, None, QueueOp::Withdraw),
            Command::QueueNext { queue: name, version } => queue(name, Some(*version), QueueOp::Next),
            Command::QueueCall { queue: name, version, entry } => {
                queue(name, Some(*version), QueueOp::Call { entry: *entry })
            }
            Command::QueueStart { queue: name, version } => queue(name, Some(*version), QueueOp::Start),
            Command::QueueStop { queue: name, version } => queue(name, Some(*version), QueueOp::Stop),
            Command::QueueMove { queue: name, version, entry, to } => {
                queue(name, Some(*version), QueueOp::Move { entry: *entry, to: *to })
            }
            Command::QueueDismiss { queue: name, version, entry } => {
                queue(name, Some(*version), QueueOp::Dismiss { entry: *entry })
            }
            Command::QueueClear { queue: name, version } => queue(name, Some(*version), QueueOp::Clear),
            Command::QueueSettings {
                queue: name,
                version,
                policy,
                topics_public,
                panellists_first,
                speaking_limit_s,
                carry_over,
                closed,
            } => {
                let speaking_limit_ms = match speaking_limit_s {
                    None => None,
                    Some(0) => Some(None),
                    Some(s) if Self::SPEAKING_LIMIT_S.contains(s) => Some(Some(Millis::from(*s) * 1000)),
                    Some(_) => {
                        return Err(Rejection::InvalidField("speaking_limit_s must be 0 (none) or 10-3600".into()))
                    }
                };
                let settings = queue::Settings {
                    policy: *policy,
                    topics_public: *topics_public,
                    panellists_first: *panellists_first,
                    speaking_limit_ms,
                    carry_over: *carry_over,
                    closed: *closed,
                };
                queue(name, Some(*version), QueueOp::Settings(settings))
            }
            Command::QueueSide { queue: name, version, entry, side } => {
                if let Some(side) = side {
                    sides::known(show, side)?;
                }
                queue(name, Some(*version), QueueOp::Side { entry: *entry, side: side.clone() })
            }
            Command::CueStandby { target, text, preset, segment, speaker } => {
                let preset_cue = match preset {
                    Some(id) => Some(
                        show.cue_presets
                            .iter()
                            .find(|p| &p.id == id)
                            .ok_or_else(|| Rejection::InvalidField(format!("no cue preset {id:?}")))?,
                    ),
                    None => None,
                };
                let target = target
                    .clone()
                    .map(CueTarget::parse)
                    .transpose()
                    .map_err(|e| Rejection::InvalidField(format!("person name {e}")))?
                    .or_else(|| preset_cue.map(|p| p.target.clone()))
                    .ok_or_else(|| Rejection::InvalidField("a cue needs a target or a preset".into()))?;
                let text = match (text, preset_cue) {
                    (Some(text), _) => Localized {
                        zh: clean_cue_text(&text.zh)?,
                        ja: clean_cue_text(&text.ja)?,
                        en: clean_cue_text(&text.en)?,
                    },
                    (None, Some(preset)) => preset.text.clone(),
                    (None, None) => return Err(Rejection::InvalidField("a cue needs a text or a preset".into())),
                };
                let segment = match segment {
                    Some(id) => Some(
                        show.segment_index(id)
                            .ok_or_else(|| Rejection::InvalidField(format!("no segment has id {id:?}")))?,
                    ),
                    None => None,
                };
                Ok(Target::Cue(CueOp::Standby { target, text, preset: preset.clone(), segment, speaker: *speaker }))
            }
            Command::CueStandingBy { cue } => Ok(Target::Cue(CueOp::StandingBy(*cue))),
            Command::CueGo { cue } => Ok(Target::Cue(CueOp::Go(*cue))),
            Command::CueDone { cue } => Ok(Target::Cue(CueOp::Done(*cue))),
            Command::CueCancel { cue } => Ok(Target::Cue(CueOp::Cancel(*cue))),
            Command::StageSignal { signal, text, pinned, speaker } => {
                let text = match text {
                    Some(text) => text::clean_optional(text, MAX_STAGE_TEXT_CHARS)
                        .map_err(|e| Rejection::InvalidField(format!("text {e}")))?,
                    None => None,
                };
                if *signal == SignalKind::Message && text.is_none() {
                    return Err(Rejection::InvalidField("a message signal needs a text".into()));
                }
                let (pinned, speaker) = (pinned.unwrap_or(false), *speaker);
                Ok(Target::Stage(Some(StageSignal { kind: *signal, text, pinned, speaker })))
            }
            Command::StageClear {} => Ok(Target::Stage(None)),
            _ => {
                let (version, op) = self.show_op(show)?;
                Ok(Target::Show { version, op })
            }
        }
    }

    /// The show operation and the version it was issued against.
    fn show_op(&self, show: &RunOfShow) -> Result<(u64, ShowOp), Rejection> {
        Ok(match self {
            Command::Next { version } => (*version, ShowOp::Next),
            Command::Previous { version } => (*version, ShowOp::Previous),
            Command::Goto { version, segment } => {
                let index = show
                    .segment_index(segment)
                    .ok_or_else(|| Rejection::InvalidField(format!("no segment has id {segment:?}")))?;
                (*version, ShowOp::Goto(index))
            }
            Command::NextSpeaker { version } => (*version, ShowOp::NextSpeaker),
            Command::GotoSpeaker { version, speaker } => (*version, ShowOp::GotoSpeaker(*speaker)),
            Command::Hold { version } => (*version, ShowOp::Hold),
            Command::Resume { version } => (*version, ShowOp::Resume),
            Command::Extend { version, seconds } => {
                let by = seconds.millis_within(f64::from(Self::MAX_EXTEND_SECONDS)).ok_or_else(|| {
                    Rejection::InvalidField(format!(
                        "seconds must be between -{max} and {max}, and at least 0.001 either way",
                        max = Self::MAX_EXTEND_SECONDS
                    ))
                })?;
                (*version, ShowOp::Extend(by))
            }
            Command::End { version } => (*version, ShowOp::End),
            Command::Undo { version } => (*version, ShowOp::Undo),
            _ => return Err(Rejection::InvalidField(format!("{} is not a run-of-show command", self.name()))),
        })
    }
}

/// One language of a cue's text: required, bounded, cleaned as all typed text is.
fn clean_cue_text(text: &str) -> Result<String, Rejection> {
    text::clean(text, MAX_STAGE_TEXT_CHARS).map_err(|e| Rejection::InvalidField(format!("cue text {e}")))
}
