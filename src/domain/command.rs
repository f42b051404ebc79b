//! What a client may ask for: every command, by the name its frame gives, and how a
//! refusal names the command it refuses (forbidden, or a conflict with a newer version).

use serde::{Deserialize, Serialize};

use super::actor::Actor;
use super::booth::TimerDef;
use super::cues::{CueTarget, SignalKind};
use super::plan::{AddSegment, UpdateEvent, UpdateSegment};
use super::polls::PollDef;
use super::questions::QaMode;
use super::queue::{Policy, RequestKind};
use super::rejection::Rejection;
use super::screens::ShortLink;
use super::show::{Automation, RunOfShow};
use super::text::{Lang, Localized};
use super::time::Seconds;
use super::votes::{Ballot, Vote};

/// An operation a client asks for, as decoded from its frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Next {
        version: u64,
    },
    Previous {
        version: u64,
    },
    Goto {
        version: u64,
        segment: String,
    },
    NextSpeaker {
        version: u64,
    },
    GotoSpeaker {
        version: u64,
        speaker: usize,
    },
    Hold {
        version: u64,
    },
    Resume {
        version: u64,
    },
    Extend {
        version: u64,
        seconds: Seconds,
    },
    End {
        version: u64,
    },
    Undo {
        version: u64,
    },
    QueueRequest {
        queue: String,
        #[serde(default)]
        kind: RequestKind,
        topic: Option<String>,
        /// Whom they speak for: a side of the plan.
        side: Option<String>,
    },
    QueueWithdraw {
        queue: String,
    },
    QueueNext {
        queue: String,
        version: u64,
    },
    QueueCall {
        queue: String,
        version: u64,
        entry: Option<u64>,
    },
    QueueStart {
        queue: String,
        version: u64,
    },
    QueueStop {
        queue: String,
        version: u64,
    },
    QueueMove {
        queue: String,
        version: u64,
        entry: u64,
        to: usize,
    },
    QueueDismiss {
        queue: String,
        version: u64,
        entry: u64,
    },
    QueueClear {
        queue: String,
        version: u64,
    },
    QueueSettings {
        queue: String,
        version: u64,
        policy: Option<Policy>,
        topics_public: Option<bool>,
        panellists_first: Option<bool>,
        speaking_limit_s: Option<u32>,
        carry_over: Option<bool>,
        closed: Option<bool>,
    },
    /// The side an open entry speaks for; `None` clears it.
    QueueSide {
        queue: String,
        version: u64,
        entry: u64,
        side: Option<String>,
    },
    CueStandby {
        target: Option<CueTarget>,
        text: Option<Localized>,
        preset: Option<String>,
        segment: Option<String>,
        speaker: Option<usize>,
    },
    CueStandingBy {
        cue: u64,
    },
    CueGo {
        cue: u64,
    },
    CueDone {
        cue: u64,
    },
    CueCancel {
        cue: u64,
    },
    StageSignal {
        signal: SignalKind,
        text: Option<String>,
        pinned: Option<bool>,
        speaker: Option<usize>,
    },
    StageClear {},
    /// The stage screens go black (`on`), or come back.
    StageBlackout {
        on: bool,
    },
    StageOnAir {
        on: bool,
    },
    StageFlash {},
    /// The chair's text fills the stage screens, for `seconds` or until cleared.
    StageFullscreen {
        text: String,
        seconds: Option<Seconds>,
    },
    StageFullscreenClear {},
    TimerCreate(Box<TimerDef>),
    TimerStart {
        timer: String,
    },
    TimerPause {
        timer: String,
    },
    /// Back to its planned length, stopped.
    TimerReset {
        timer: String,
    },
    /// More time left on a count down, more counted on a count up (less when negative).
    TimerAdjust {
        timer: String,
        seconds: Seconds,
    },
    /// Where the timer shows; an absent field keeps its setting.
    TimerShow {
        timer: String,
        stage: Option<bool>,
        cues: Option<bool>,
    },
    TimerRemove {
        timer: String,
    },
    /// A note to the chair: a preset of the plan or a typed text.
    NoteSend {
        preset: Option<String>,
        text: Option<String>,
    },
    NoteRead {
        note: u64,
    },
    PlanAddSegment(Box<AddSegment>),
    PlanDuplicateSegment {
        plan_version: u64,
        segment: String,
        /// The copy's id; generated when absent.
        new_segment: Option<String>,
    },
    PlanRemoveSegment {
        plan_version: u64,
        segment: String,
    },
    PlanMoveSegment {
        plan_version: u64,
        segment: String,
        after: Option<String>,
    },
    PlanUpdateSegment(Box<UpdateSegment>),
    PlanUpdateEvent(Box<UpdateEvent>),
    PlanUndo {
        plan_version: u64,
    },
    /// The whole list of automations; the organizer's.
    PlanUpdateAutomations {
        plan_version: u64,
        automations: Vec<Automation>,
    },
    /// The whole list of short links for unattended screens.
    PlanUpdateShortLinks {
        plan_version: u64,
        short_links: Vec<ShortLink>,
    },
    QuestionAsk {
        /// The segment it is for; the live one (or the event, before the show) when absent.
        segment: Option<String>,
        text: String,
        /// The language it is written in; the asker's when absent.
        lang: Option<Lang>,
        #[serde(default)]
        anonymous: bool,
    },
    QuestionWithdraw {
        question: u64,
    },
    QuestionVote {
        question: u64,
        /// `false` takes the vote back.
        #[serde(default = "up")]
        up: bool,
    },
    QuestionApprove {
        question: u64,
    },
    QuestionReject {
        question: u64,
        reason: Option<String>,
    },
    QuestionEdit {
        question: u64,
        text: String,
    },
    QuestionStar {
        question: u64,
        starred: bool,
    },
    QuestionMove {
        question: u64,
        to: usize,
    },
    /// Puts a question on screen; `null` takes it off.
    QuestionHighlight {
        question: Option<u64>,
    },
    QuestionAnswer {
        question: u64,
    },
    /// Turns a question into a spoken request of its asker in its segment's queue.
    QuestionPromote {
        question: u64,
    },
    /// How a segment (or, without one, the whole event) takes questions from now on.
    QuestionSettings {
        segment: Option<String>,
        mode: QaMode,
    },
    PollDefine(Box<PollDef>),
    PollOpen {
        poll: String,
    },
    PollClose {
        poll: String,
    },
    PollShow {
        poll: String,
        shown: bool,
    },
    PollVote {
        poll: String,
        choices: Vec<usize>,
    },
    /// The votes of a short window, gathered by the hub: built by the server (a cloud node
    /// sends its batches to the venue as one), never decoded from a client's frame, since
    /// [`Command::TYPES`] leaves it out.
    Votes {
        ballots: Vec<Ballot>,
    },
    /// A whole plan brought in from a file (`eventhub import`): built by the server from a
    /// parsed file, never decoded from a frame.
    #[serde(skip)]
    PlanReplace {
        plan_version: u64,
        plan: Box<RunOfShow>,
        /// Replace it even while the show is live.
        force: bool,
    },
}

impl Command {
    /// Every command `type`, so that the decoder can tell an unknown type from a bad field.
    pub const TYPES: [&'static str; 68] = [
        "next",
        "previous",
        "goto",
        "next_speaker",
        "goto_speaker",
        "hold",
        "resume",
        "extend",
        "end",
        "undo",
        "queue_request",
        "queue_withdraw",
        "queue_next",
        "queue_call",
        "queue_start",
        "queue_stop",
        "queue_move",
        "queue_dismiss",
        "queue_clear",
        "queue_settings",
        "queue_side",
        "cue_standby",
        "cue_standing_by",
        "cue_go",
        "cue_done",
        "cue_cancel",
        "stage_signal",
        "stage_clear",
        "stage_blackout",
        "stage_on_air",
        "stage_flash",
        "stage_fullscreen",
        "stage_fullscreen_clear",
        "timer_create",
        "timer_start",
        "timer_pause",
        "timer_reset",
        "timer_adjust",
        "timer_show",
        "timer_remove",
        "note_send",
        "note_read",
        "plan_add_segment",
        "plan_duplicate_segment",
        "plan_remove_segment",
        "plan_move_segment",
        "plan_update_segment",
        "plan_update_event",
        "plan_undo",
        "plan_update_automations",
        "plan_update_short_links",
        "question_ask",
        "question_withdraw",
        "question_vote",
        "question_approve",
        "question_reject",
        "question_edit",
        "question_star",
        "question_move",
        "question_highlight",
        "question_answer",
        "question_promote",
        "question_settings",
        "poll_define",
        "poll_open",
        "poll_close",
        "poll_show",
        "poll_vote",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Command::Next { .. } => "next",
            Command::Previous { .. } => "previous",
            Command::Goto { .. } => "goto",
            Command::NextSpeaker { .. } => "next_speaker",
            Command::GotoSpeaker { .. } => "goto_speaker",
            Command::Hold { .. } => "hold",
            Command::Resume { .. } => "resume",
            Command::Extend { .. } => "extend",
            Command::End { .. } => "end",
            Command::Undo { .. } => "undo",
            Command::QueueRequest { .. } => "queue_request",
            Command::QueueWithdraw { .. } => "queue_withdraw",
            Command::QueueNext { .. } => "queue_next",
            Command::QueueCall { .. } => "queue_call",
            Command::QueueStart { .. } => "queue_start",
            Command::QueueStop { .. } => "queue_stop",
            Command::QueueMove { .. } => "queue_move",
            Command::QueueDismiss { .. } => "queue_dismiss",
            Command::QueueClear { .. } => "queue_clear",
            Command::QueueSettings { .. } => "queue_settings",
            Command::QueueSide { .. } => "queue_side",
            Command::CueStandby { .. } => "cue_standby",
            Command::CueStandingBy { .. } => "cue_standing_by",
            Command::CueGo { .. } => "cue_go",
            Command::CueDone { .. } => "cue_done",
            Command::CueCancel { .. } => "cue_cancel",
            Command::StageSignal { .. } => "stage_signal",
            Command::StageClear {} => "stage_clear",
            Command::StageBlackout { .. } => "stage_blackout",
            Command::StageOnAir { .. } => "stage_on_air",
            Command::StageFlash {} => "stage_flash",
            Command::StageFullscreen { .. } => "stage_fullscreen",
            Command::StageFullscreenClear {} => "stage_fullscreen_clear",
            Command::TimerCreate(_) => "timer_create",
            Command::TimerStart { .. } => "timer_start",
            Command::TimerPause { .. } => "timer_pause",
            Command::TimerReset { .. } => "timer_reset",
            Command::TimerAdjust { .. } => "timer_adjust",
            Command::TimerShow { .. } => "timer_show",
            Command::TimerRemove { .. } => "timer_remove",
            Command::NoteSend { .. } => "note_send",
            Command::NoteRead { .. } => "note_read",
            Command::PlanAddSegment(_) => "plan_add_segment",
            Command::PlanDuplicateSegment { .. } => "plan_duplicate_segment",
            Command::PlanRemoveSegment { .. } => "plan_remove_segment",
            Command::PlanMoveSegment { .. } => "plan_move_segment",
            Command::PlanUpdateSegment(_) => "plan_update_segment",
            Command::PlanUpdateEvent(_) => "plan_update_event",
            Command::PlanUndo { .. } => "plan_undo",
            Command::PlanReplace { .. } => "plan_replace",
            Command::PlanUpdateAutomations { .. } => "plan_update_automations",
            Command::PlanUpdateShortLinks { .. } => "plan_update_short_links",
            Command::QuestionAsk { .. } => "question_ask",
            Command::QuestionWithdraw { .. } => "question_withdraw",
            Command::QuestionVote { .. } => "question_vote",
            Command::QuestionApprove { .. } => "question_approve",
            Command::QuestionReject { .. } => "question_reject",
            Command::QuestionEdit { .. } => "question_edit",
            Command::QuestionStar { .. } => "question_star",
            Command::QuestionMove { .. } => "question_move",
            Command::QuestionHighlight { .. } => "question_highlight",
            Command::QuestionAnswer { .. } => "question_answer",
            Command::QuestionPromote { .. } => "question_promote",
            Command::QuestionSettings { .. } => "question_settings",
            Command::PollDefine(_) => "poll_define",
            Command::PollOpen { .. } => "poll_open",
            Command::PollClose { .. } => "poll_close",
            Command::PollShow { .. } => "poll_show",
            Command::PollVote { .. } => "poll_vote",
            Command::Votes { .. } => "votes",
        }
    }

    /// The vote a command casts, when it is one: the hub gathers these into batches.
    pub fn vote(&self) -> Option<Vote> {
        match self {
            Command::QuestionVote { question, up } => Some(Vote::Question { question: *question, up: *up }),
            Command::PollVote { poll, choices } => Some(Vote::Poll { poll: poll.clone(), choices: choices.clone() }),
            _ => None,
        }
    }
}

fn up() -> bool {
    true
}

/// A refusal for want of authority, naming the role and what it tried.
pub(super) fn forbidden(actor: &Actor, command: &Command, why: &str) -> Rejection {
    Rejection::Forbidden(format!("a {} may not {}; {why}", actor.role.as_str(), command.name()))
}

/// A command names the version of what it moves; any other means someone moved it first.
pub(super) fn check_version(what: &str, current: u64, named: u64) -> Result<(), Rejection> {
    if current == named {
        return Ok(());
    }
    Err(Rejection::Conflict(format!("{what} moved on (version {current}, not {named}); look again and retry")))
}
