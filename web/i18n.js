// UI labels in Chinese (simplified), Japanese and English.
// Content (titles, names) comes from the server; these are only the page's own words.

export const LANGS = ['zh', 'ja', 'en'];
export const LANG_NAMES = { zh: '中文', ja: '日本語', en: 'English' };

const S = {
  en: {
    now: 'Now', next_up: 'Next up', speaker: 'Speaker', chair: 'Chair',
    remaining: 'Remaining', overrun: 'Overrun', on_hold: 'On hold',
    standby: 'Standby — the event has not started', ended: 'The event has ended',
    connecting: 'Connecting…', reconnecting: 'Reconnecting…', connected: 'Connected',
    closed: 'Disconnected',
    behind: 'Behind schedule', ahead: 'Ahead of schedule', on_schedule: 'On schedule',
    projected_end: 'Projected end', starts_in: 'Starts in', elapsed: 'Elapsed', planned: 'Planned',
    actual: 'Actual', run_of_show: 'Run of show', language: 'Language',
    speaker_of: 'Speaker {i} of {n}', nothing_next: '—', times_in: 'Times in {tz}',
    last_segment: 'Last segment', event_time: 'Event time',
    // buttons
    start: 'Start', next: 'Next', previous: 'Previous', next_speaker: 'Next speaker',
    hold: 'Hold', resume: 'Resume', extend_1: '+1 min', extend_5: '+5 min',
    shorten_1: '−1 min', end: 'End', goto: 'Go to', goto_speaker: 'Speaker chosen', extend: 'Time changed', dismiss: 'Dismiss',
    shortcuts: 'Keyboard shortcuts', key_next: 'Next', key_previous: 'Previous',
    key_speaker: 'Next speaker', key_hold: 'Hold / resume', key_extend: '+1 min',
    key_shorten: '−1 min',
    exports: 'Exports', export_log: 'Change log (JSONL)', export_record: 'Planned vs actual (CSV)',
    // attendee
    your_name: 'Your name', join: 'Join', in_room: 'In the room', remote: 'Remote',
    welcome_prompt: 'Please tell us your name to join.',
    // messages
    read_only: 'This link can only watch: the show controls are disabled.',
    err_missing_fragment: 'This page needs #event=…&token=… in its address.',
    err_unauthorized: 'The link is not valid for this event (unauthorized).',
    err_unknown_event: 'No such event on this server.',
    err_unsupported_version: 'This page is out of date: reload it.',
    err_not_connected: 'Not connected: the command was not sent.',
    by: 'by {name}',
    kind: {
      ceremony: 'Ceremony', speech: 'Speech', keynote: 'Keynote', panel: 'Panel',
      qa: 'Q&A', break: 'Break', closing: 'Closing',
    },
  },
  zh: {
    now: '现在', next_up: '下一项', speaker: '发言人', chair: '主持人',
    remaining: '剩余', overrun: '超时', on_hold: '已暂停',
    standby: '待机 — 活动尚未开始', ended: '活动已结束',
    connecting: '正在连接…', reconnecting: '正在重新连接…', connected: '已连接',
    closed: '连接已断开',
    behind: '落后于日程', ahead: '提前于日程', on_schedule: '按计划进行',
    projected_end: '预计结束', starts_in: '距开始', elapsed: '已用时', planned: '计划',
    actual: '实际', run_of_show: '议程', language: '语言',
    speaker_of: '第 {i} 位，共 {n} 位', nothing_next: '—', times_in: '时间按 {tz} 时区',
    last_segment: '最后一项', event_time: '会场时间',
    start: '开始', next: '下一项', previous: '上一项', next_speaker: '下一位发言人',
    hold: '暂停', resume: '继续', extend_1: '+1 分钟', extend_5: '+5 分钟',
    shorten_1: '−1 分钟', end: '结束', goto: '跳转', goto_speaker: '切换发言人', extend: '时间已调整', dismiss: '关闭',
    shortcuts: '快捷键', key_next: '下一项', key_previous: '上一项',
    key_speaker: '下一位发言人', key_hold: '暂停 / 继续', key_extend: '+1 分钟',
    key_shorten: '−1 分钟',
    exports: '导出', export_log: '变更日志（JSONL）', export_record: '计划与实际时间（CSV）',
    your_name: '您的姓名', join: '加入', in_room: '在会场', remote: '线上',
    welcome_prompt: '请输入您的姓名后加入。',
    read_only: '此链接仅可查看，控制按钮已停用。',
    err_missing_fragment: '页面地址需要包含 #event=…&token=…',
    err_unauthorized: '此链接对本活动无效（未授权）。',
    err_unknown_event: '服务器上没有这个活动。',
    err_unsupported_version: '页面版本过旧，请刷新。',
    err_not_connected: '未连接：指令未发送。',
    by: '操作者：{name}',
    kind: {
      ceremony: '仪式', speech: '致辞', keynote: '主旨演讲', panel: '圆桌讨论',
      qa: '问答', break: '休息', closing: '闭幕',
    },
  },
  ja: {
    now: '現在', next_up: '次のプログラム', speaker: '登壇者', chair: '司会',
    remaining: '残り', overrun: '超過', on_hold: '一時停止中',
    standby: 'スタンバイ — イベントはまだ始まっていません', ended: 'イベントは終了しました',
    connecting: '接続中…', reconnecting: '再接続中…', connected: '接続済み',
    closed: '切断されました',
    behind: '予定より遅れ', ahead: '予定より早い', on_schedule: '予定どおり',
    projected_end: '終了見込み', starts_in: '開始まで', elapsed: '経過', planned: '予定',
    actual: '実績', run_of_show: '進行表', language: '言語',
    speaker_of: '{n} 人中 {i} 人目', nothing_next: '—', times_in: '時刻は {tz} 基準',
    last_segment: '最後のプログラム', event_time: '会場時刻',
    start: '開始', next: '次へ', previous: '前へ', next_speaker: '次の登壇者',
    hold: '一時停止', resume: '再開', extend_1: '+1 分', extend_5: '+5 分',
    shorten_1: '−1 分', end: '終了', goto: '移動', goto_speaker: '登壇者を変更', extend: '時間を変更', dismiss: '閉じる',
    shortcuts: 'キーボードショートカット', key_next: '次へ', key_previous: '前へ',
    key_speaker: '次の登壇者', key_hold: '一時停止 / 再開', key_extend: '+1 分',
    key_shorten: '−1 分',
    exports: 'エクスポート', export_log: '変更ログ（JSONL）', export_record: '予定と実績（CSV）',
    your_name: 'お名前', join: '参加', in_room: '会場で参加', remote: 'オンライン',
    welcome_prompt: '参加するにはお名前を入力してください。',
    read_only: 'このリンクは閲覧専用です。操作ボタンは無効です。',
    err_missing_fragment: 'ページのアドレスに #event=…&token=… が必要です。',
    err_unauthorized: 'このリンクはこのイベントでは無効です（認証エラー）。',
    err_unknown_event: 'このサーバーにそのイベントはありません。',
    err_unsupported_version: 'ページが古くなっています。再読み込みしてください。',
    err_not_connected: '未接続のため、操作は送信されませんでした。',
    by: '操作：{name}',
    kind: {
      ceremony: '式典', speech: 'スピーチ', keynote: '基調講演', panel: 'パネル討論',
      qa: '質疑応答', break: '休憩', closing: '閉会',
    },
  },
};

/** t('ja', 'speaker_of', {i: 2, n: 4}); unknown keys fall back to English, then to the key. */
export function t(lang, key, vars) {
  const s = (S[lang] && S[lang][key]) ?? S.en[key] ?? key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

export function kindName(lang, kind) {
  return (S[lang] && S[lang].kind[kind]) || S.en.kind[kind] || String(kind ?? '');
}

/** Fills every element with data-i18n="key" (textContent) and data-i18n-label="key" (aria-label). */
export function applyLabels(lang, root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(lang, el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(lang, el.dataset.i18nLabel));
  }
  document.documentElement.lang = lang === 'zh' ? 'zh-Hans' : lang;
}
