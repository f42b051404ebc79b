//! Written questions, polls and votes through the dispatcher: moderation states, one vote per
//! participant, anonymity kept in the state, the chair's order and highlight, promotion to
//! the queue, limits, polls' life and ballots, and replay giving the same state.

use super::*;
use crate::domain::polls::{PollDef, PollState, ResultsShown};
use crate::domain::questions::{QaMode, QuestionState, ASK_INTERVAL_MS, MAX_QUESTION_CHARS};
use crate::domain::votes::{self, Ballot, Vote};

fn with_qa(mode: QaMode) -> EventState {
    let mut show = forum_show();
    show.qa = mode;
    let mut state = EventState::new(show);
    run(&mut state, next, T0).unwrap();
    state
}

fn ask_q(state: &mut EventState, who: &str, text: &str, now: Millis) -> Result<Vec<Change>, Rejection> {
    let command = Command::QuestionAsk { segment: None, text: text.into(), lang: None, anonymous: false };
    state.apply(&command, &attendee(who), now)
}

fn chair(state: &mut EventState, command: Command) -> Result<Vec<Change>, Rejection> {
    state.apply(&command, &moderator(), T0 + MIN)
}

fn vote(state: &mut EventState, ballots: Vec<(&str, Vote)>) -> Result<Vec<Change>, Rejection> {
    let ballots =
        ballots.into_iter().map(|(who, vote)| Ballot::new(&attendee(who), &format!("v-{who}"), vote)).collect();
    state.apply(&Command::Votes { ballots }, &attendee("hub"), T0 + MIN)
}

fn up(question: u64) -> Vote {
    Vote::Question { question, up: true }
}

/// Replaying `changes` from `start` gives the state `end`.
fn replays(start: &EventState, changes: &[Change], end: &EventState) {
    let mut replayed = start.clone();
    changes.iter().for_each(|c| replayed.evolve(c));
    assert_eq!(&replayed, end);
}

#[test]
fn questions_are_refused_where_the_plan_takes_none() {
    let mut state = with_qa(QaMode::Off);
    let refused = ask_q(&mut state, "a", "Why?", T0).unwrap_err();
    assert_eq!(refused.code(), "invalid_state");
}

#[test]
fn a_moderated_question_waits_for_the_chair_then_joins_the_order() {
    let mut state = with_qa(QaMode::Moderated);
    ask_q(&mut state, "a", "How do we share data across the border?", T0).unwrap();
    let question = &state.questions.items[&1];
    assert_eq!((question.state, question.segment.as_deref()), (QuestionState::Pending, Some("opening")));
    assert!(state.questions.board.order.is_empty());
    chair(&mut state, Command::QuestionApprove { question: 1 }).unwrap();
    assert_eq!(state.questions.items[&1].state, QuestionState::Approved);
    assert_eq!(state.questions.board.order, vec![1]);
    let twice = chair(&mut state, Command::QuestionApprove { question: 1 }).unwrap_err();
    assert_eq!(twice.code(), "invalid_state", "a double click approves once");
}

#[test]
fn an_open_segment_shows_questions_at_once_and_the_chair_can_moderate_it_live() {
    let mut state = with_qa(QaMode::Open);
    ask_q(&mut state, "a", "First", T0).unwrap();
    assert_eq!(state.questions.items[&1].state, QuestionState::Approved);
    let settings = Command::QuestionSettings { segment: Some("opening".into()), mode: QaMode::Moderated };
    chair(&mut state, settings).unwrap();
    ask_q(&mut state, "b", "Second", T0).unwrap();
    assert_eq!(state.questions.items[&2].state, QuestionState::Pending);
    assert_eq!(state.qa_mode(Some("keynotes")), QaMode::Open, "other segments keep the event's setting");
}

#[test]
fn a_rejection_keeps_its_reason_and_leaves_the_order_and_the_screen() {
    let mut state = with_qa(QaMode::Open);
    ask_q(&mut state, "a", "Off topic", T0).unwrap();
    chair(&mut state, Command::QuestionHighlight { question: Some(1) }).unwrap();
    let reject = Command::QuestionReject { question: 1, reason: Some("  not about\u{200b} this panel ".into()) };
    chair(&mut state, reject).unwrap();
    let question = &state.questions.items[&1];
    assert_eq!((question.state, question.reason.as_deref()), (QuestionState::Rejected, Some("not about this panel")));
    assert_eq!((state.questions.board.order.len(), state.questions.board.highlighted), (0, None));
}

#[test]
fn an_edit_marks_the_question_edited_and_goes_through_the_text_policy() {
    let mut state = with_qa(QaMode::Moderated);
    ask_q(&mut state, "a", "Teh question", T0).unwrap();
    chair(&mut state, Command::QuestionEdit { question: 1, text: "The\u{202e} question".into() }).unwrap();
    let question = &state.questions.items[&1];
    assert_eq!((question.text.as_str(), question.edited), ("The question", true));
    let empty = chair(&mut state, Command::QuestionEdit { question: 1, text: " \u{200b} ".into() }).unwrap_err();
    assert_eq!(empty.code(), "invalid_field");
}

#[test]
fn limits_refuse_long_texts_fast_askers_and_too_many_open_questions() {
    let mut state = with_qa(QaMode::Moderated);
    let long = "字".repeat(MAX_QUESTION_CHARS + 1);
    assert_eq!(ask_q(&mut state, "a", &long, T0).unwrap_err().code(), "invalid_field");
    ask_q(&mut state, "a", &"字".repeat(MAX_QUESTION_CHARS), T0).unwrap();
    assert_eq!(ask_q(&mut state, "a", "again", T0 + 1000).unwrap_err().code(), "rate_limited");
    ask_q(&mut state, "a", "two", T0 + ASK_INTERVAL_MS).unwrap();
    ask_q(&mut state, "a", "three", T0 + 2 * ASK_INTERVAL_MS).unwrap();
    let fourth = ask_q(&mut state, "a", "four", T0 + 3 * ASK_INTERVAL_MS).unwrap_err();
    assert_eq!(fourth.code(), "invalid_state");
    chair(&mut state, Command::QuestionReject { question: 1, reason: None }).unwrap();
    ask_q(&mut state, "a", "four", T0 + 3 * ASK_INTERVAL_MS).unwrap();
}

#[test]
fn crew_screens_may_not_ask_and_attendees_may_not_moderate() {
    let mut state = with_qa(QaMode::Moderated);
    let av = Actor { role: Role::Av, ..attendee("av") };
    let command = Command::QuestionAsk { segment: None, text: "?".into(), lang: None, anonymous: false };
    assert_eq!(state.apply(&command, &av, T0).unwrap_err().code(), "forbidden");
    ask_q(&mut state, "a", "Mine", T0).unwrap();
    let approve = state.apply(&Command::QuestionApprove { question: 1 }, &attendee("a"), T0).unwrap_err();
    assert_eq!(approve.code(), "forbidden");
    let withdraw = state.apply(&Command::QuestionWithdraw { question: 1 }, &attendee("b"), T0).unwrap_err();
    assert_eq!(withdraw.code(), "forbidden", "only the asker withdraws");
    state.apply(&Command::QuestionWithdraw { question: 1 }, &attendee("a"), T0).unwrap();
    assert_eq!(state.questions.items[&1].state, QuestionState::Withdrawn);
}

#[test]
fn an_anonymous_question_keeps_its_asker_in_the_state_and_the_log() {
    let mut state = with_qa(QaMode::Open);
    let command =
        Command::QuestionAsk { segment: None, text: "Quiet one".into(), lang: Some(Lang::Zh), anonymous: true };
    let changes = state.apply(&command, &attendee("a"), T0).unwrap();
    let Change::Question { question, .. } = &changes[0] else { panic!("{changes:?}") };
    assert_eq!((question.participant.as_str(), question.anonymous, question.lang), ("a", true, Lang::Zh));
}

#[test]
fn one_vote_per_participant_and_a_vote_can_be_taken_back() {
    let mut state = with_qa(QaMode::Open);
    ask_q(&mut state, "a", "Q", T0).unwrap();
    let changes = vote(&mut state, vec![("b", up(1)), ("c", up(1)), ("b", up(1))]).unwrap();
    let Change::Votes { ballots, questions, .. } = &changes[0] else { panic!("{changes:?}") };
    assert_eq!(ballots.len(), 2, "b's second vote in the batch does not count");
    assert_eq!(questions[0].votes, 2);
    assert_eq!(state.questions.items[&1].votes, 2);
    vote(&mut state, vec![("b", Vote::Question { question: 1, up: false })]).unwrap();
    assert_eq!(state.questions.items[&1].votes, 1);
    let again = vote(&mut state, vec![("b", Vote::Question { question: 1, up: false })]).unwrap_err();
    assert_eq!(again.code(), "invalid_state");
}

#[test]
fn pending_and_answered_questions_take_no_votes() {
    let mut state = with_qa(QaMode::Moderated);
    ask_q(&mut state, "a", "Q", T0).unwrap();
    assert!(vote(&mut state, vec![("b", up(1))]).is_err());
    chair(&mut state, Command::QuestionApprove { question: 1 }).unwrap();
    vote(&mut state, vec![("b", up(1))]).unwrap();
    chair(&mut state, Command::QuestionAnswer { question: 1 }).unwrap();
    assert!(vote(&mut state, vec![("c", up(1))]).is_err());
    assert_eq!(state.questions.items[&1].votes, 1, "an answered question keeps its count");
}

#[test]
fn the_chair_stars_orders_and_highlights_and_an_answer_takes_it_off_screen() {
    let mut state = with_qa(QaMode::Open);
    for (k, who) in ["a", "b", "c"].into_iter().enumerate() {
        ask_q(&mut state, who, who, T0 + k as Millis).unwrap();
    }
    chair(&mut state, Command::QuestionMove { question: 3, to: 0 }).unwrap();
    assert_eq!(state.questions.board.order, vec![3, 1, 2]);
    chair(&mut state, Command::QuestionStar { question: 2, starred: true }).unwrap();
    assert!(state.questions.items[&2].starred);
    chair(&mut state, Command::QuestionHighlight { question: Some(2) }).unwrap();
    assert_eq!(state.questions.board.highlighted, Some(2));
    assert!(chair(&mut state, Command::QuestionHighlight { question: Some(2) }).is_err(), "on screen already");
    chair(&mut state, Command::QuestionAnswer { question: 2 }).unwrap();
    assert_eq!(state.questions.board.highlighted, None);
    assert_eq!(state.questions.board.order, vec![3, 1]);
    assert!(chair(&mut state, Command::QuestionHighlight { question: None }).is_err(), "nothing on screen");
}

#[test]
fn a_promoted_question_puts_its_asker_in_the_segment_queue_with_it_as_topic() {
    let mut state = with_qa(QaMode::Open);
    ask_q(&mut state, "a", &"长".repeat(200), T0).unwrap();
    let changes = chair(&mut state, Command::QuestionPromote { question: 1 }).unwrap();
    assert!(changes.iter().any(|c| matches!(c, Change::Queue { queue, .. } if queue == "opening")));
    let entry = &state.queues["opening"].waiting[0];
    assert_eq!(entry.participant, "a");
    assert_eq!(entry.topic.as_ref().map(|t| t.chars().count()), Some(139));
    let question = &state.questions.items[&1];
    assert_eq!(question.state, QuestionState::Promoted);
    assert_eq!(question.promoted.as_ref().map(|p| (p.queue.as_str(), p.entry)), Some(("opening", entry.id)));
    assert!(chair(&mut state, Command::QuestionPromote { question: 1 }).is_err(), "promoted once");
}

fn poll_def(id: &str, multiple: bool, results: ResultsShown) -> PollDef {
    PollDef {
        id: id.into(),
        segment: None,
        question: Localized::same("Which city next?"),
        options: vec![Localized::same("Tokyo"), Localized::same("Shanghai"), Localized::same("Osaka")],
        multiple,
        anonymous: true,
        results,
    }
}

fn ballot(poll: &str, choices: &[usize]) -> Vote {
    Vote::Poll { poll: poll.into(), choices: choices.to_vec() }
}

#[test]
fn a_poll_opens_takes_one_changeable_ballot_each_and_closes() {
    let mut state = started();
    chair(&mut state, Command::PollDefine(Box::new(poll_def("city", false, ResultsShown::Closed)))).unwrap();
    assert!(vote(&mut state, vec![("a", ballot("city", &[0]))]).is_err(), "a draft takes no ballots");
    chair(&mut state, Command::PollOpen { poll: "city".into() }).unwrap();
    assert!(!state.polls.polls[0].shown, "results after close");
    vote(&mut state, vec![("a", ballot("city", &[0])), ("b", ballot("city", &[1])), ("a", ballot("city", &[2]))])
        .unwrap();
    assert_eq!((state.polls.polls[0].counts.clone(), state.polls.polls[0].voters), (vec![0, 1, 1], 2));
    for bad in [vec![], vec![0, 1], vec![3]] {
        assert_eq!(vote(&mut state, vec![("c", ballot("city", &bad))]).unwrap_err().code(), "invalid_field");
    }
    chair(&mut state, Command::PollClose { poll: "city".into() }).unwrap();
    let poll = &state.polls.polls[0];
    assert_eq!((poll.state, poll.shown), (PollState::Closed, true));
    assert!(vote(&mut state, vec![("c", ballot("city", &[0]))]).is_err());
    chair(&mut state, Command::PollOpen { poll: "city".into() }).unwrap();
    assert_eq!(state.polls.polls[0].counts, vec![0, 1, 1], "a reopened poll keeps its ballots");
}

#[test]
fn a_single_bad_ballot_is_refused_with_its_own_reason() {
    let mut state = started();
    chair(&mut state, Command::PollDefine(Box::new(poll_def("city", true, ResultsShown::Live)))).unwrap();
    chair(&mut state, Command::PollOpen { poll: "city".into() }).unwrap();
    assert!(state.polls.polls[0].shown, "live results show while open");
    let twice = vote(&mut state, vec![("a", ballot("city", &[1, 1]))]).unwrap_err();
    assert_eq!((twice.code(), twice.to_string().as_str()), ("invalid_field", "an option is chosen twice"));
    vote(&mut state, vec![("a", ballot("city", &[0, 2]))]).unwrap();
    assert_eq!(state.polls.polls[0].counts, vec![1, 0, 1]);
}

#[test]
fn poll_definitions_are_checked_and_only_chairs_run_polls() {
    let mut state = started();
    let mut def = poll_def("city", false, ResultsShown::Live);
    def.options.truncate(1);
    assert_eq!(chair(&mut state, Command::PollDefine(Box::new(def))).unwrap_err().code(), "invalid_field");
    let mut def = poll_def("bad id!", false, ResultsShown::Live);
    assert!(chair(&mut state, Command::PollDefine(Box::new(def.clone()))).is_err());
    def.id = "ok".into();
    def.question.ja = "\u{7}".into();
    assert!(chair(&mut state, Command::PollDefine(Box::new(def))).is_err());
    let define = Command::PollDefine(Box::new(poll_def("city", false, ResultsShown::Chair)));
    assert_eq!(state.apply(&define, &attendee("a"), T0).unwrap_err().code(), "forbidden");
    chair(&mut state, define.clone()).unwrap();
    assert_eq!(chair(&mut state, define).unwrap_err().code(), "invalid_state", "ids are unique");
    chair(&mut state, Command::PollOpen { poll: "city".into() }).unwrap();
    chair(&mut state, Command::PollClose { poll: "city".into() }).unwrap();
    assert!(!state.polls.polls[0].shown, "under `chair`, results wait for the chair");
    chair(&mut state, Command::PollShow { poll: "city".into(), shown: true }).unwrap();
    assert!(state.polls.polls[0].shown);
}

#[test]
fn a_crew_screen_may_not_vote() {
    let mut state = with_qa(QaMode::Open);
    ask_q(&mut state, "a", "Q", T0).unwrap();
    let display = Actor { role: Role::Display, ..attendee("d") };
    let ballots = vec![Ballot::new(&display, "v", up(1))];
    assert_eq!(state.apply(&Command::Votes { ballots }, &attendee("hub"), T0).unwrap_err().code(), "forbidden");
}

#[test]
fn planned_polls_start_as_drafts_and_replay_gives_the_same_state() {
    let mut show = forum_show();
    show.qa = QaMode::Moderated;
    show.prepared_polls = vec![poll_def("city", false, ResultsShown::Live)];
    let start = EventState::new(show);
    assert_eq!(start.polls.polls[0].state, PollState::Draft);
    let mut state = start.clone();
    let mut changes = run(&mut state, next, T0).unwrap();
    changes.extend(ask_q(&mut state, "a", "Q1", T0).unwrap());
    changes.extend(chair(&mut state, Command::QuestionApprove { question: 1 }).unwrap());
    changes.extend(chair(&mut state, Command::PollOpen { poll: "city".into() }).unwrap());
    changes.extend(
        vote(&mut state, vec![("b", up(1)), ("b", ballot("city", &[1])), ("c", ballot("city", &[1]))]).unwrap(),
    );
    changes.extend(chair(&mut state, Command::QuestionHighlight { question: Some(1) }).unwrap());
    changes.extend(chair(&mut state, Command::PollClose { poll: "city".into() }).unwrap());
    replays(&start, &changes, &state);
    assert_eq!((state.polls.polls[0].counts.clone(), state.questions.items[&1].votes), (vec![0, 2, 0], 1));
}

#[test]
fn a_plan_that_prepares_or_rewords_a_draft_poll_sends_it_and_an_opened_poll_keeps_its_wording() {
    let mut show = forum_show();
    show.prepared_polls =
        vec![poll_def("city", false, ResultsShown::Live), poll_def("food", false, ResultsShown::Live)];
    let start = EventState::new(show.clone());
    let mut state = start.clone();
    let mut changes = chair(&mut state, Command::PollOpen { poll: "food".into() }).unwrap();
    let mut plan = show;
    for def in &mut plan.prepared_polls {
        def.question.en = format!("{} reworded", def.id);
    }
    plan.prepared_polls.push(poll_def("walk", true, ResultsShown::Chair));
    let replace = Command::PlanReplace { plan_version: state.plan_version, plan: Box::new(plan), force: true };
    let edit = chair(&mut state, replace).unwrap();
    let polls: Vec<(&str, &str)> = edit
        .iter()
        .filter_map(|c| match c {
            Change::Poll { op, poll } => Some((op.as_str(), poll.def.id.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(polls, [("plan_replace", "city"), ("plan_replace", "walk")], "not the open one");
    let question = |state: &EventState, id: &str| state.polls.get(id).unwrap().def.question.en.clone();
    assert_eq!(
        (question(&state, "city"), question(&state, "food")),
        ("city reworded".into(), poll_def("food", false, ResultsShown::Live).question.en)
    );
    assert_eq!(state.polls.get("walk").unwrap().state, PollState::Draft);
    changes.extend(edit);
    replays(&start, &changes, &state);
}

#[test]
fn a_batchs_counts_are_the_states_after_it_and_what_it_replaced_can_be_put_back() {
    let mut state = with_qa(QaMode::Moderated);
    ask_q(&mut state, "a", "Q1", T0).unwrap();
    ask_q(&mut state, "b", "Q2", T0).unwrap();
    chair(&mut state, Command::QuestionApprove { question: 1 }).unwrap();
    chair(&mut state, Command::PollDefine(Box::new(poll_def("city", true, ResultsShown::Live)))).unwrap();
    chair(&mut state, Command::PollOpen { poll: "city".into() }).unwrap();
    vote(&mut state, vec![("c", up(1)), ("c", ballot("city", &[0, 1])), ("d", ballot("city", &[2]))]).unwrap();
    let before = state.clone();
    let withdraw = Vote::Question { question: 1, up: false };
    let batch = vec![
        ("c", withdraw.clone()),
        ("c", up(1)),
        ("c", up(1)),
        ("e", up(1)),
        ("f", up(2)),
        ("c", ballot("city", &[2])),
        ("e", ballot("city", &[1])),
        ("e", ballot("city", &[0, 2])),
        ("g", ballot("city", &[7])),
        ("d", withdraw),
    ];
    let ballots: Vec<Ballot> = batch
        .iter()
        .enumerate()
        .map(|(k, (who, v))| Ballot::new(&attendee(who), &format!("b{k}"), v.clone()))
        .collect();
    let replaced = votes::replaced(&state.questions, &state.polls, &ballots);
    let changes = state.apply(&Command::Votes { ballots }, &attendee("hub"), T0 + MIN).unwrap();
    let Change::Votes { ballots: kept, questions, polls, .. } = &changes[0] else { panic!("{changes:?}") };
    let ids: Vec<&str> = kept.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["b0", "b1", "b3", "b5", "b6", "b7"], "in order, each against those before it");
    assert_eq!(questions.len(), 1);
    assert_eq!((questions[0].question, questions[0].votes), (1, state.questions.items[&1].votes));
    assert_eq!(state.questions.items[&1].votes, 2);
    let city = state.polls.get("city").unwrap();
    assert_eq!((polls[0].counts.clone(), polls[0].voters), (city.counts.clone(), city.voters));
    assert_eq!((city.counts.clone(), city.voters), (vec![1, 0, 3], 3));
    votes::restore(&mut state.questions, &mut state.polls, replaced);
    assert_eq!((&state.questions, &state.polls), (&before.questions, &before.polls), "put back whole");
}
