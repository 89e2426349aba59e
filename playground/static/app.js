// accessbot playground: renders what the fake Slack holds for one user and
// turns clicks into the playground's JSON API calls. Every piece of text from
// the bot goes through textContent, never innerHTML, so message content
// cannot inject markup.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  const app = {
    people: [],
    me: '',
    channels: [], // [{id, name}]
    tab: 'messages', // 'messages', 'home' or a channel id
    seen: {}, // what was last rendered, by pane; reset when the user changes
    modal: null, // {id, hash, values, errors}
    home: null, // {id, hash, view}
    busy: false,
    returnFocus: null, // where focus goes back when the modal closes
  };

  // ---- DOM helpers -------------------------------------------------------

  function el(tag, props, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === undefined || kid === null || kid === false) continue;
      n.append(typeof kid === 'string' ? document.createTextNode(kid) : kid);
    }
    return n;
  }

  function clear(n) {
    while (n.firstChild) n.removeChild(n.firstChild);
    return n;
  }

  async function api(method, path, body) {
    const opts = { method, headers: {} };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new Error((data && data.error) || res.status + ' ' + res.statusText);
    return data;
  }

  function status(text, bad) {
    const s = $('status');
    s.textContent = text;
    s.className = bad ? 'toast' : 'muted';
  }

  // ---- mrkdwn ------------------------------------------------------------

  const EMOJI = {
    white_check_mark: '\u2705', heavy_check_mark: '\u2714\uFE0F', x: '\u274C', warning: '\u26A0\uFE0F',
    hourglass: '\u231B', hourglass_flowing_sand: '\u23F3', lock: '\uD83D\uDD12', unlock: '\uD83D\uDD13',
    bell: '\uD83D\uDD14', wave: '\uD83D\uDC4B', tada: '\uD83C\uDF89', no_entry: '\u26D4', no_entry_sign: '\uD83D\uDEAB',
    information_source: '\u2139\uFE0F', clipboard: '\uD83D\uDCCB', key: '\uD83D\uDD11', bust_in_silhouette: '\uD83D\uDC64',
    busts_in_silhouette: '\uD83D\uDC65', calendar: '\uD83D\uDCC5', date: '\uD83D\uDCC5', eyes: '\uD83D\uDC40',
    red_circle: '\uD83D\uDD34', large_orange_circle: '\uD83D\uDFE0', large_yellow_circle: '\uD83D\uDFE1',
    large_blue_circle: '\uD83D\uDD35', large_green_circle: '\uD83D\uDFE2', white_circle: '\u26AA',
    arrow_right: '\u27A1\uFE0F', rotating_light: '\uD83D\uDEA8', mag: '\uD83D\uDD0D', memo: '\uD83D\uDCDD',
    inbox_tray: '\uD83D\uDCE5', outbox_tray: '\uD83D\uDCE4', raised_hand: '\u270B', thumbsup: '\uD83D\uDC4D',
    '+1': '\uD83D\uDC4D', clock3: '\uD83D\uDD52', alarm_clock: '\u23F0', link: '\uD83D\uDD17', robot_face: '\uD83E\uDD16',
    shield: '\uD83D\uDEE1\uFE0F', ballot_box_with_check: '\u2611\uFE0F', arrows_counterclockwise: '\uD83D\uDD04',
    heavy_plus_sign: '\u2795', heavy_minus_sign: '\u2796', pencil: '\uD83D\uDCDD', pencil2: '\u270F\uFE0F',
    page_facing_up: '\uD83D\uDCC4', point_right: '\uD83D\uDC49', sparkles: '\u2728', zzz: '\uD83D\uDCA4',
  };

  function decodeEntities(s) {
    return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }

  function emojify(s) {
    return s.replace(/:([a-z0-9_+\-]+):/g, (m, name) => EMOJI[name] || m);
  }

  function textNode(s, emoji) {
    const t = decodeEntities(s);
    return document.createTextNode(emoji === false ? t : emojify(t));
  }

  function personName(id) {
    const p = app.people.find((x) => x.id === id);
    return p ? p.name : id;
  }

  function safeHref(url) {
    return /^(https?:|mailto:)/i.test(url) ? url : null;
  }

  // <...> references: links, mentions, channels, special mentions.
  function angle(inner) {
    const bar = inner.indexOf('|');
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? inner.slice(bar + 1) : '';
    if (target.startsWith('@')) return el('span', { class: 'mention', text: '@' + (label || personName(target.slice(1))) });
    if (target.startsWith('#')) return el('span', { class: 'mention', text: '#' + (label || target.slice(1)) });
    if (target.startsWith('!')) {
      if (target.startsWith('!date')) return textNode(label || target);
      return el('span', { class: 'mention', text: '@' + (label || target.slice(1)) });
    }
    const href = safeHref(decodeEntities(target));
    const text = decodeEntities(label || target);
    if (!href) return document.createTextNode(text);
    return el('a', { href, target: '_blank', rel: 'noopener noreferrer', text });
  }

  const WORD = /[A-Za-z0-9]/;

  // inline renders bold, italic, strike, code and <...> inside one line run.
  function inline(s, parent) {
    let i = 0;
    let plain = '';
    const flush = () => { if (plain) { parent.append(textNode(plain)); plain = ''; } };
    while (i < s.length) {
      const c = s[i];
      if (c === '<') {
        const end = s.indexOf('>', i + 1);
        if (end > i + 1) { flush(); parent.append(angle(s.slice(i + 1, end))); i = end + 1; continue; }
      }
      if (c === '`') {
        const end = s.indexOf('`', i + 1);
        if (end > i + 1) { flush(); parent.append(el('code', {}, textNode(s.slice(i + 1, end), false))); i = end + 1; continue; }
      }
      if (c === '*' || c === '_' || c === '~') {
        const before = i === 0 ? '' : s[i - 1];
        const end = s.indexOf(c, i + 1);
        const after = end >= 0 && end + 1 < s.length ? s[end + 1] : '';
        if (end > i + 1 && !WORD.test(before) && !WORD.test(after) && s[i + 1] !== ' ' && s.slice(i + 1, end).indexOf('\n') < 0) {
          flush();
          const n = el(c === '*' ? 'strong' : c === '_' ? 'em' : 's');
          inline(s.slice(i + 1, end), n);
          parent.append(n);
          i = end + 1;
          continue;
        }
      }
      plain += c;
      i++;
    }
    flush();
  }

  function mrkdwn(text) {
    const frag = document.createDocumentFragment();
    const parts = String(text || '').split('```');
    parts.forEach((part, idx) => {
      if (idx % 2 === 1) frag.append(el('pre', {}, textNode(part.replace(/^\n/, ''), false)));
      else inline(part, frag);
    });
    return frag;
  }

  // textObject renders a Block Kit text object (plain_text or mrkdwn).
  function textObject(t) {
    if (!t) return document.createTextNode('');
    if (t.type === 'mrkdwn') return mrkdwn(t.text);
    return document.createTextNode(t.emoji === false ? String(t.text || '') : emojify(String(t.text || '')));
  }

  function plainOf(t) {
    return t ? decodeEntities(String(t.text || '')) : '';
  }

  // ---- state values in Slack's shape ---------------------------------------

  const STATEFUL = ['plain_text_input', 'static_select', 'external_select', 'multi_static_select', 'multi_external_select',
    'radio_buttons', 'checkboxes', 'datepicker', 'users_select', 'multi_users_select', 'number_input', 'email_text_input', 'url_text_input', 'timepicker'];

  function option(o) {
    if (!o) return null;
    const out = { text: o.text, value: o.value };
    if (o.description) out.description = o.description;
    return out;
  }

  function initialValue(e) {
    switch (e.type) {
      case 'plain_text_input': case 'number_input': case 'email_text_input': case 'url_text_input':
        return { type: e.type, value: e.initial_value !== undefined ? e.initial_value : null };
      case 'static_select': case 'external_select': case 'radio_buttons':
        return { type: e.type, selected_option: option(e.initial_option) };
      case 'multi_static_select': case 'multi_external_select': case 'checkboxes':
        return { type: e.type, selected_options: (e.initial_options || []).map(option) };
      case 'datepicker':
        return { type: e.type, selected_date: e.initial_date || null };
      case 'timepicker':
        return { type: e.type, selected_time: e.initial_time || null };
      case 'users_select':
        return { type: e.type, selected_user: e.initial_user || null };
      case 'multi_users_select':
        return { type: e.type, selected_users: e.initial_users || [] };
    }
    return null;
  }

  // elementsOf lists [block_id, element] for every element of blocks.
  function elementsOf(blocks) {
    const out = [];
    (blocks || []).forEach((b, i) => {
      const bid = blockId(b, i);
      if (b.type === 'input' && b.element) out.push([bid, b.element]);
      if (b.type === 'actions') (b.elements || []).forEach((e) => out.push([bid, e]));
      if (b.type === 'section' && b.accessory) out.push([bid, b.accessory]);
    });
    return out;
  }

  function blockId(b, i) {
    return b.block_id || 'blk-' + i;
  }

  // fieldId is a stable DOM id for an element, so a label can name it and
  // focus survives a views.update that redraws the form.
  function fieldId(ctx, bid, e) {
    return ('f-' + ctx.where + '-' + bid + '-' + (e.action_id || e.type)).replace(/[^A-Za-z0-9_-]/g, '_');
  }

  // stateFor keeps what the visitor entered in blocks that survive a views.update.
  function stateFor(view, old) {
    const values = {};
    for (const [bid, e] of elementsOf(view.blocks)) {
      if (!e.action_id || STATEFUL.indexOf(e.type) < 0) continue;
      const kept = old && old[bid] && old[bid][e.action_id];
      values[bid] = values[bid] || {};
      values[bid][e.action_id] = kept && kept.type === e.type ? kept : initialValue(e);
    }
    return values;
  }

  // ---- actions -------------------------------------------------------------

  function actionFor(e, bid, value) {
    const a = { action_id: e.action_id, block_id: bid, type: e.type };
    if (e.type === 'button') {
      a.text = e.text;
      if (e.value !== undefined) a.value = e.value;
      if (e.style) a.style = e.style;
      return a;
    }
    Object.assign(a, value || {});
    a.type = e.type;
    return a;
  }

  async function send(ctx, e, bid, value) {
    if (e.confirm) {
      const c = e.confirm;
      if (!window.confirm(plainOf(c.title) + '\n\n' + plainOf(c.text))) return;
    }
    const body = { user: app.me, action: actionFor(e, bid, value) };
    if (ctx.where === 'message') { body.channel = ctx.channel; body.ts = ctx.ts; }
    else { body.view_id = ctx.viewId; body.values = ctx.where === 'modal' && app.modal ? app.modal.values : {}; }
    try {
      await api('POST', '/api/action', body);
      status('Sent ' + e.type + ' ' + e.action_id);
    } catch (err) {
      status(err.message, true);
    }
    refreshSoon();
  }

  // refreshSoon catches what the bot does after its ack (views.update,
  // chat.update) without waiting for the next poll.
  function refreshSoon() {
    refresh();
    setTimeout(refresh, 300);
  }

  // ---- elements ------------------------------------------------------------

  function optionsList(e) {
    if (e.option_groups) {
      return e.option_groups.map((g) => ({ label: plainOf(g.label), options: g.options || [] }));
    }
    return [{ label: null, options: e.options || [] }];
  }

  function setValue(ctx, bid, e, v) {
    if (ctx.where !== 'modal' || !app.modal) return;
    app.modal.values[bid] = app.modal.values[bid] || {};
    app.modal.values[bid][e.action_id] = v;
  }

  function currentValue(ctx, bid, e) {
    if (ctx.where === 'modal' && app.modal && app.modal.values[bid] && app.modal.values[bid][e.action_id]) {
      return app.modal.values[bid][e.action_id];
    }
    return initialValue(e) || {};
  }

  // element renders one interactive element; dispatch says whether a change
  // is sent to the bot at once (as Slack does for actions blocks,
  // accessories and dispatch_action inputs).
  function element(e, bid, ctx, dispatch, labelId) {
    const cur = currentValue(ctx, bid, e);
    const id = fieldId(ctx, bid, e);
    const changed = (v) => {
      setValue(ctx, bid, e, v);
      if (dispatch) send(ctx, e, bid, v);
    };
    switch (e.type) {
      case 'button':
        return el('button', {
          type: 'button', class: 'btn' + (e.style ? ' ' + e.style : ''), id,
          onclick: () => send(ctx, e, bid),
        }, textObject(e.text));
      case 'static_select': case 'overflow': case 'users_select': {
        const ph = e.type === 'overflow' ? '\u2026' : plainOf(e.placeholder) || 'Choose\u2026';
        const sel = el('select', { 'data-action': e.action_id, id,
          'aria-labelledby': labelId, 'aria-label': labelId ? null : (e.type === 'overflow' ? 'More actions' : ph) });
        sel.append(el('option', { value: '', text: ph }));
        const all = [];
        if (e.type === 'users_select') {
          app.people.forEach((p) => sel.append(el('option', { value: p.id, text: p.name, selected: cur.selected_user === p.id })));
        } else {
          const groups = e.type === 'overflow' ? [{ label: null, options: e.options || [] }] : optionsList(e);
          groups.forEach((g) => {
            const parent = g.label ? el('optgroup', { label: g.label }) : sel;
            g.options.forEach((o) => {
              all.push(o);
              const selected = cur.selected_option && cur.selected_option.value === o.value;
              parent.append(el('option', { value: o.value, text: plainOf(o.text), selected }));
            });
            if (parent !== sel) sel.append(parent);
          });
        }
        sel.addEventListener('change', () => {
          if (e.type === 'users_select') return changed({ type: e.type, selected_user: sel.value || null });
          const o = all.find((x) => x.value === sel.value);
          if (e.type === 'overflow') { if (o) send(ctx, e, bid, { selected_option: option(o) }); sel.value = ''; return; }
          changed({ type: e.type, selected_option: option(o) });
        });
        return sel;
      }
      case 'multi_static_select': {
        const sel = el('select', { multiple: true, id, 'aria-labelledby': labelId, size: Math.min(6, (e.options || []).length + 1) });
        const all = [];
        const chosen = (cur.selected_options || []).map((o) => o && o.value);
        optionsList(e).forEach((g) => {
          const parent = g.label ? el('optgroup', { label: g.label }) : sel;
          g.options.forEach((o) => {
            all.push(o);
            parent.append(el('option', { value: o.value, text: plainOf(o.text), selected: chosen.indexOf(o.value) >= 0 }));
          });
          if (parent !== sel) sel.append(parent);
        });
        sel.addEventListener('change', () => {
          const picked = Array.from(sel.selectedOptions).map((n) => option(all.find((o) => o.value === n.value)));
          changed({ type: e.type, selected_options: picked });
        });
        return sel;
      }
      case 'radio_buttons': case 'checkboxes': {
        const box = el('div', { role: e.type === 'radio_buttons' ? 'radiogroup' : 'group', id, 'aria-labelledby': labelId });
        const name = 'r-' + bid + '-' + e.action_id;
        const chosen = e.type === 'radio_buttons'
          ? [cur.selected_option && cur.selected_option.value]
          : (cur.selected_options || []).map((o) => o && o.value);
        (e.options || []).forEach((o) => {
          const input = el('input', {
            type: e.type === 'radio_buttons' ? 'radio' : 'checkbox', name, value: o.value,
            checked: chosen.indexOf(o.value) >= 0,
          });
          input.addEventListener('change', () => {
            if (e.type === 'radio_buttons') return changed({ type: e.type, selected_option: option(o) });
            const picked = Array.from(box.querySelectorAll('input:checked'))
              .map((n) => option((e.options || []).find((x) => x.value === n.value)));
            changed({ type: e.type, selected_options: picked });
          });
          const label = el('label', { class: 'choice' }, input, ' ', textObject(o.text));
          if (o.description) label.append(el('div', { class: 'hint-text' }, textObject(o.description)));
          box.append(label);
        });
        return box;
      }
      case 'datepicker': {
        const input = el('input', { type: 'date', id, value: cur.selected_date || '' });
        input.addEventListener('change', () => changed({ type: e.type, selected_date: input.value || null }));
        return input;
      }
      case 'timepicker': {
        const input = el('input', { type: 'time', id, value: cur.selected_time || '' });
        input.addEventListener('change', () => changed({ type: e.type, selected_time: input.value || null }));
        return input;
      }
      case 'plain_text_input': case 'number_input': case 'email_text_input': case 'url_text_input': {
        const input = e.multiline
          ? el('textarea', { id, maxlength: e.max_length })
          : el('input', { type: 'text', id, maxlength: e.max_length });
        input.value = cur.value || '';
        input.placeholder = plainOf(e.placeholder);
        input.addEventListener('input', () => setValue(ctx, bid, e, { type: e.type, value: input.value === '' ? null : input.value }));
        if (dispatch) {
          input.addEventListener('keydown', (ev) => {
            if (ev.key === 'Enter' && !e.multiline) { ev.preventDefault(); send(ctx, e, bid, { value: input.value }); }
          });
        }
        return input;
      }
      case 'external_select': case 'multi_external_select':
        return externalSelect(e, bid, ctx, cur, changed, id);
      case 'image':
        return el('span', { class: 'muted', text: '[image: ' + (e.alt_text || '') + ']' });
      default:
        return el('span', { class: 'unsupported', text: '[' + e.type + ' is not shown in the playground]' });
    }
  }

  // externalSelect is a type-ahead: each keystroke (past min_query_length,
  // Slack's default 3) sends a block_suggestion and lists the options.
  function externalSelect(e, bid, ctx, cur, changed, id) {
    const multi = e.type === 'multi_external_select';
    const box = el('div', { class: 'ext' });
    const input = el('input', { type: 'text', id, placeholder: plainOf(e.placeholder) || 'Type to search\u2026',
      'aria-controls': id + '-menu', 'aria-describedby': id + '-chosen', 'aria-autocomplete': 'list' });
    const menu = el('div', { class: 'menu', id: id + '-menu', role: 'group', 'aria-label': 'Matches', hidden: true });
    const chosen = el('div', { class: 'chosen', id: id + '-chosen', 'aria-live': 'polite' });
    const min = e.min_query_length === undefined ? 3 : e.min_query_length;
    const show = () => {
      const picked = multi ? (cur.selected_options || []) : (cur.selected_option ? [cur.selected_option] : []);
      chosen.textContent = picked.length ? 'Selected: ' + picked.map((o) => plainOf(o.text)).join(', ') : '';
    };
    show();
    let timer = null;
    let seq = 0;
    let picked = false;
    const pick = (o) => {
      if (multi) cur = { type: e.type, selected_options: (cur.selected_options || []).concat([option(o)]) };
      else cur = { type: e.type, selected_option: option(o) };
      menu.hidden = true;
      input.value = '';
      show();
      changed(cur);
      picked = true; // back in the input without listing everything again
      input.focus();
    };
    const lookup = async () => {
      const q = input.value;
      if (q.length < min) { menu.hidden = true; return; }
      const mine = ++seq;
      try {
        const res = await api('POST', '/api/suggest', { user: app.me, view_id: ctx.viewId, block_id: bid, action_id: e.action_id, value: q });
        if (mine !== seq) return;
        clear(menu);
        const groups = res.option_groups && res.option_groups.length
          ? res.option_groups.map((g) => ({ label: plainOf(g.label), options: g.options || [] }))
          : [{ label: null, options: res.options || [] }];
        let n = 0;
        groups.forEach((g) => {
          if (g.label) menu.append(el('div', { class: 'group', text: g.label }));
          g.options.forEach((o) => { n++; menu.append(el('button', { type: 'button', onclick: () => pick(o) }, textObject(o.text))); });
        });
        if (!n) menu.append(el('div', { class: 'group', text: 'No matches' }));
        menu.hidden = false;
      } catch (err) {
        status(err.message, true);
      }
    };
    input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(lookup, 200); });
    // Down arrow moves into the matches; Escape closes them (not the modal).
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowDown' && !menu.hidden) {
        const first = menu.querySelector('button');
        if (first) { ev.preventDefault(); first.focus(); }
      } else if (ev.key === 'Escape' && !menu.hidden) {
        ev.stopPropagation();
        menu.hidden = true;
      }
    });
    menu.addEventListener('keydown', (ev) => {
      const items = Array.from(menu.querySelectorAll('button'));
      const i = items.indexOf(document.activeElement);
      if (ev.key === 'ArrowDown' && i < items.length - 1) { ev.preventDefault(); items[i + 1].focus(); }
      else if (ev.key === 'ArrowUp') { ev.preventDefault(); (i > 0 ? items[i - 1] : input).focus(); }
      else if (ev.key === 'Escape') { ev.stopPropagation(); menu.hidden = true; input.focus(); }
    });
    input.addEventListener('focus', () => { if (min === 0 && !picked) lookup(); picked = false; });
    box.append(input, menu, chosen);
    return box;
  }

  // ---- blocks ----------------------------------------------------------------

  function renderBlocks(blocks, ctx) {
    const frag = document.createDocumentFragment();
    (blocks || []).forEach((b, i) => {
      const bid = blockId(b, i);
      const err = ctx.errors && ctx.errors[bid];
      let n;
      switch (b.type) {
        case 'header':
          n = el('div', { class: 'block header' }, textObject(b.text));
          break;
        case 'section': {
          n = el('div', { class: 'block section' });
          const body = el('div', { class: 'text' });
          if (b.text) body.append(textObject(b.text));
          if (b.fields) body.append(el('div', { class: 'fields' }, b.fields.map((f) => el('div', {}, textObject(f)))));
          n.append(body);
          if (b.accessory) n.append(element(b.accessory, bid, ctx, true));
          break;
        }
        case 'context':
          n = el('div', { class: 'block context' }, (b.elements || []).map((e) =>
            e.type === 'image' ? el('span', { text: '[' + (e.alt_text || 'image') + ']' }) : el('span', {}, textObject(e))));
          break;
        case 'divider':
          n = el('hr', { class: 'divider' });
          break;
        case 'actions':
          n = el('div', { class: 'block actions' }, (b.elements || []).map((e) => element(e, bid, ctx, true)));
          break;
        case 'input': {
          n = el('div', { class: 'block input' + (err ? ' has-error' : '') });
          const e = b.element || {};
          const fid = fieldId(ctx, bid, e);
          // A group (radio buttons, checkboxes) is named by aria-labelledby;
          // a single control by the label's for.
          const group = e.type === 'radio_buttons' || e.type === 'checkboxes';
          const label = el('label', { class: 'lbl', id: fid + '-label', for: group ? null : fid }, textObject(b.label));
          if (b.optional) label.append(el('span', { class: 'optional', text: ' (optional)' }));
          const control = element(e, bid, ctx, !!b.dispatch_action, group ? fid + '-label' : null);
          const described = [];
          if (b.hint) described.push(fid + '-hint');
          if (err) described.push(fid + '-error');
          const target = control.matches && control.matches('input, select, textarea, [role]') ? control : control.querySelector && control.querySelector('input');
          if (target && target.getAttribute('aria-describedby')) described.unshift(target.getAttribute('aria-describedby'));
          if (target && described.length) target.setAttribute('aria-describedby', described.join(' '));
          if (target && err) target.setAttribute('aria-invalid', 'true');
          n.append(label, control);
          if (b.hint) n.append(el('div', { class: 'hint-text', id: fid + '-hint' }, textObject(b.hint)));
          if (err) { n.append(el('div', { class: 'error', id: fid + '-error', text: err })); }
          frag.append(n);
          return;
        }
        case 'markdown':
          n = el('div', { class: 'block section' }, el('div', { class: 'text' }, mrkdwn(b.text)));
          break;
        case 'image':
          n = el('div', { class: 'block muted', text: '[image: ' + (b.alt_text || '') + ']' });
          break;
        case 'rich_text':
          n = el('div', { class: 'block text' }, textNode(richText(b)));
          break;
        default:
          n = el('div', { class: 'block unsupported', text: '[' + b.type + ' block is not shown in the playground]' });
      }
      if (err) n.append(el('div', { class: 'error', text: err }));
      frag.append(n);
    });
    return frag;
  }

  function richText(b) {
    const out = [];
    const walk = (x) => {
      if (!x) return;
      if (typeof x.text === 'string') out.push(x.text);
      (x.elements || []).forEach(walk);
    };
    walk(b);
    return out.join('');
  }

  // ---- panes -------------------------------------------------------------------

  function renderMessages(box, list, empty) {
    clear(box);
    if (!list.length) {
      box.append(el('p', { class: 'muted', text: empty }));
      return;
    }
    for (const m of list) {
      const ctx = { where: 'message', channel: m.channel, ts: m.ts };
      const meta = el('div', { class: 'meta' }, el('b', { text: 'accessbot' }), ' ',
        m.ephemeral ? 'Only visible to you' : '', m.edited ? ' (edited)' : '', m.thread_ts ? ' \u00B7 in thread' : '');
      const body = el('div', {});
      let blocks = null;
      if (m.blocks) { try { blocks = typeof m.blocks === 'string' ? JSON.parse(m.blocks) : m.blocks; } catch (e) { blocks = null; } }
      if (blocks && blocks.length) body.append(renderBlocks(blocks, ctx));
      else body.append(el('div', { class: 'section' }, el('div', { class: 'text' }, mrkdwn(m.text))));
      box.append(el('div', { class: 'msg' + (m.thread_ts ? ' thread' : '') + (m.ephemeral ? ' ephemeral' : ''), 'data-ts': m.ts }, meta, body));
    }
    box.scrollTop = box.scrollHeight;
  }

  function renderHome() {
    const box = clear($('home'));
    if (!app.home) {
      box.append(el('p', { class: 'muted', text: 'Opening the Home tab\u2026' }));
      return;
    }
    box.append(renderBlocks(app.home.view.blocks, { where: 'home', viewId: app.home.id }));
  }

  // ---- modal -------------------------------------------------------------------

  function focusables(root) {
    return Array.from(root.querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])'))
      .filter((n) => !n.disabled && !n.hidden && n.offsetParent !== null);
  }

  // setBackground makes the page behind the modal inert (no focus, no
  // clicks, hidden from screen readers) while a modal is open.
  function setBackground(open) {
    ['top', 'main'].forEach((id) => {
      if (open) $(id).setAttribute('inert', '');
      else $(id).removeAttribute('inert');
    });
  }

  function renderModal(stack) {
    const back = $('modal-backdrop');
    const box = $('modal');
    const wasOpen = !back.hidden;
    const focusedId = box.contains(document.activeElement) ? document.activeElement.id : '';
    clear(box);
    if (!app.modal) {
      back.hidden = true;
      setBackground(false);
      if (wasOpen) {
        const to = app.returnFocus && document.contains(app.returnFocus) ? app.returnFocus : $('command');
        app.returnFocus = null;
        to.focus();
      }
      return;
    }
    const v = app.modal.view;
    const ctx = { where: 'modal', viewId: app.modal.id, errors: app.modal.errors };
    const closeBtn = el('button', { type: 'button', class: 'btn', onclick: closeModal }, v.close ? textObject(v.close) : 'Close');
    const foot = el('div', { class: 'mfoot' }, closeBtn);
    if (v.submit) {
      foot.append(el('button', { type: 'button', class: 'btn primary', onclick: submitModal, disabled: v.submit_disabled }, textObject(v.submit)));
    }
    box.append(
      el('div', { class: 'mhead' }, el('h2', { id: 'modal-title', class: 'mtitle' }, textObject(v.title)),
        el('span', { class: 'stack', text: stack > 1 ? stack + ' views stacked' : '' })),
      el('div', { class: 'mbody' }, renderBlocks(v.blocks, ctx)),
      foot);
    back.hidden = false;
    setBackground(true);
    if (!wasOpen) {
      if (!app.returnFocus && document.activeElement && document.activeElement !== document.body) app.returnFocus = document.activeElement;
    }
    // Focus goes into the modal: back to the field that had it before a
    // redraw, else the first field with an error, else the first control.
    const again = focusedId && document.getElementById(focusedId);
    const bad = box.querySelector('[aria-invalid="true"]');
    const first = focusables(box.querySelector('.mbody'))[0] || focusables(box)[0];
    (again || bad || first || box).focus();
  }

  // Tab and Shift+Tab cycle inside the open modal; Escape closes it.
  function modalKeys(ev) {
    if ($('modal-backdrop').hidden) return;
    if (ev.key === 'Escape') {
      ev.preventDefault();
      closeModal();
      return;
    }
    if (ev.key !== 'Tab') return;
    const items = focusables($('modal'));
    if (!items.length) { ev.preventDefault(); $('modal').focus(); return; }
    const first = items[0];
    const last = items[items.length - 1];
    const inside = $('modal').contains(document.activeElement);
    if (ev.shiftKey && (document.activeElement === first || !inside)) { ev.preventDefault(); last.focus(); }
    else if (!ev.shiftKey && (document.activeElement === last || !inside)) { ev.preventDefault(); first.focus(); }
  }

  async function submitModal() {
    if (!app.modal || app.busy) return;
    app.busy = true;
    try {
      const res = await api('POST', '/api/submit', { user: app.me, view_id: app.modal.id, values: app.modal.values });
      if (res.response_action === 'errors' && res.errors) {
        app.modal.errors = res.errors;
        renderModal(app.modal.stack);
        status('The form has errors');
      } else {
        status('Submitted');
      }
    } catch (err) {
      status(err.message, true);
    } finally {
      app.busy = false;
    }
    refreshSoon();
  }

  async function closeModal() {
    if (!app.modal) return;
    const me = app.me;
    try { await api('POST', '/api/close', { user: me, view_id: app.modal.id }); } catch (err) { status(err.message, true); }
    refresh();
  }

  function renderAnswer(res, text) {
    const box = clear($('answer'));
    box.className = 'answer';
    box.append(el('div', { class: 'muted', text: 'You: ' + text }));
    const ack = res && res.ack;
    if (!ack) {
      box.append(el('div', { class: 'muted', text: 'Acknowledged with no message (look for a modal or a DM).' }));
      return;
    }
    if (ack.text) box.append(el('div', {}, mrkdwn(ack.text)));
    box.append(el('details', {}, el('summary', { text: 'Ack payload (JSON)' }), el('pre', { text: JSON.stringify(ack, null, 2) })));
  }

  // ---- polling -------------------------------------------------------------------

  async function refresh() {
    if (!app.me) return;
    const me = app.me;
    let st;
    try {
      st = await api('GET', '/api/state?user=' + encodeURIComponent(me));
    } catch (err) {
      status('Cannot reach the playground: ' + err.message, true);
      return;
    }
    if (me !== app.me) return; // the visitor became someone else meanwhile
    const msgKey = JSON.stringify(st.messages);
    if (msgKey !== app.seen.messages) {
      app.seen.messages = msgKey;
      renderMessages($('messages'), st.messages, 'No messages yet. Send /access help below.');
    }
    for (const c of st.channels || []) {
      const key = JSON.stringify(c.messages);
      if (key === app.seen['ch:' + c.id]) continue;
      const before = app.seen['ch:' + c.id] === undefined ? null : app.seen['count:' + c.id];
      app.seen['ch:' + c.id] = key;
      app.seen['count:' + c.id] = c.messages.length;
      if (app.tab === c.id) renderChannel(c);
      else if (before !== null && c.messages.length > before) markUnread(c.id, c.messages.length - before);
      app.channelState[c.id] = c;
    }
    const modalKey = st.modal ? st.modal.id + '/' + st.modal.hash : '';
    if (modalKey !== app.seen.modal) {
      app.seen.modal = modalKey;
      if (st.modal) {
        const view = st.modal.view;
        const old = app.modal && app.modal.id === st.modal.id ? app.modal.values : null;
        app.modal = { id: st.modal.id, hash: st.modal.hash, view, values: stateFor(view, old), errors: null, stack: st.stack };
      } else {
        app.modal = null;
      }
      renderModal(st.stack);
    }
    const homeKey = st.home ? st.home.hash : '';
    if (homeKey !== app.seen.home) {
      app.seen.home = homeKey;
      app.home = st.home;
      renderHome();
    }
    status('Live \u00B7 ' + new Date().toLocaleTimeString());
  }

  function renderChannel(c) {
    const box = $('channel');
    box.setAttribute('aria-labelledby', 'tab-' + c.id);
    renderMessages(box, c.messages, 'Nothing posted in #' + c.name + ' yet.');
  }

  function markUnread(id, n) {
    const tab = $('tab-' + id);
    if (!tab) return;
    let badge = tab.querySelector('.unread');
    if (!badge) { badge = el('span', { class: 'unread' }); tab.append(badge); }
    const total = (Number(badge.dataset.n) || 0) + n;
    badge.dataset.n = String(total);
    badge.textContent = String(total);
    badge.setAttribute('aria-label', total + ' new');
  }

  async function sendCommand(text) {
    if (!app.me) return;
    status('Sending ' + text + '\u2026');
    // Typed in the channel on screen, as in Slack: channel routes apply.
    const channel = app.channels.some((c) => c.id === app.tab) ? app.tab : undefined;
    try {
      const res = await api('POST', '/api/command', { user: app.me, text, channel });
      renderAnswer(res, text);
      status('Answered');
    } catch (err) {
      renderAnswer(null, text);
      status(err.message, true);
    }
    showTab('messages');
    refreshSoon();
  }

  function tabs() {
    return Array.from(document.querySelectorAll('#tabs [role=tab]'));
  }

  function showTab(tab) {
    app.tab = tab;
    for (const t of tabs()) {
      const on = t.dataset.tab === tab;
      t.classList.toggle('active', on);
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
    }
    $('messages').hidden = tab !== 'messages';
    $('home').hidden = tab !== 'home';
    const ch = app.channels.find((c) => c.id === tab);
    $('channel').hidden = !ch;
    if (ch) {
      const badge = $('tab-' + ch.id).querySelector('.unread');
      if (badge) badge.remove();
      renderChannel(app.channelState[ch.id] || { id: ch.id, name: ch.name, messages: [] });
    }
  }

  async function openHome() {
    showTab('home');
    renderHome();
    try {
      await api('POST', '/api/home', { user: app.me });
    } catch (err) {
      status(err.message, true);
    }
    refresh();
  }

  function choose(id) {
    app.me = id;
    // Forget everything shown for the previous user, and take their modal
    // off the screen now: the next refresh draws this user's state.
    app.seen = {};
    app.channelState = {};
    app.modal = null;
    app.home = null;
    app.returnFocus = null;
    renderModal(0);
    renderHome();
    clear($('messages'));
    document.querySelectorAll('#tabs .unread').forEach((b) => b.remove());
    const p = app.people.find((x) => x.id === id);
    $('who-note').textContent = p ? p.email + (p.note ? ' \u00B7 ' + p.note : '') : '';
    clear($('answer')).append(document.createTextNode('Send a command to see the bot\u2019s acknowledgement here.'));
    $('answer').className = 'answer muted';
    if (location.hash !== '#' + id) history.replaceState(null, '', '#' + id);
    showTab(app.tab === 'home' ? 'messages' : app.tab);
    refresh();
  }

  // ---- clock -----------------------------------------------------------------

  function showClock(c) {
    const now = new Date(c.now);
    const ahead = now.getTime() - Date.now();
    const days = Math.round(ahead / 86400000 * 10) / 10;
    $('clock-now').textContent = now.toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' }) +
      (ahead > 60000 ? ' (' + (days >= 1 ? days + (days === 1 ? ' day' : ' days') : Math.round(ahead / 3600000) + ' h') + ' ahead)' : '');
    const jobs = clear($('jobs'));
    (c.jobs || []).forEach((j) => jobs.append(el('button', { type: 'button', class: 'btn', 'data-job': j.name, onclick: () => runJob(j) }, j.label)));
  }

  async function clockCall(path, body, what) {
    status(what + '\u2026');
    document.querySelectorAll('#clock button').forEach((b) => { b.disabled = true; });
    try {
      showClock(await api('POST', path, body));
      status(what + ': done');
    } catch (err) {
      status(err.message, true);
    } finally {
      document.querySelectorAll('#clock button').forEach((b) => { b.disabled = false; });
    }
    refreshSoon();
  }

  function runJob(j) {
    return clockCall('/api/run', { job: j.name }, j.label);
  }

  async function startClock() {
    let c;
    try { c = await api('GET', '/api/clock'); } catch (err) { status(err.message, true); return; }
    $('clock').hidden = false;
    showClock(c);
    document.querySelectorAll('#clock [data-advance]').forEach((b) => b.addEventListener('click', () =>
      clockCall('/api/clock', { advance: b.dataset.advance }, 'Clock ' + b.textContent)));
  }

  // ---- webhook receiver ------------------------------------------------------

  let lastWebhooks = '';
  async function refreshWebhooks() {
    let w;
    try { w = await api('GET', '/api/webhooks'); } catch (err) { return; }
    const key = JSON.stringify(w);
    if (key === lastWebhooks) return;
    lastWebhooks = key;
    const st = w.stats || {};
    $('webhooks-stats').textContent = (st.accepted || 0) + ' received, ' + (st.repeats || 0) + ' repeats dropped, ' +
      (st.rejected || 0) + ' refused';
    const list = clear($('webhooks-list'));
    (w.deliveries || []).forEach((d) => {
      let data = '';
      try { data = JSON.stringify(d.data, null, 1); } catch (e) { data = String(d.data); }
      list.append(el('li', {},
        el('div', {}, el('span', { class: 'dtype', text: d.type || d.endpoint }), ' ',
          el('span', { class: 'muted', text: new Date(d.received_at).toLocaleTimeString() + (d.repeats ? ' (+' + d.repeats + ' repeats)' : '') })),
        el('div', { class: 'muted', text: 'webhook-id ' + d.id }),
        el('pre', { text: data })));
    });
    if (!(w.deliveries || []).length) list.append(el('li', { class: 'muted', text: 'Nothing yet: request Slack @oncall to start a flow, or, as Omar Haddad (admin), choose Run playbook on a finding in #access-alerts.' }));
  }

  async function start() {
    let data;
    try {
      data = await api('GET', '/api/people');
    } catch (err) {
      status('Cannot load people: ' + err.message, true);
      return;
    }
    app.people = data.people || [];
    app.channels = data.channels || [];
    app.channelState = {};
    $('team').textContent = 'Workspace: ' + (data.team.name || data.team.id);
    $('tab-messages').dataset.tab = 'messages';
    $('tab-home').dataset.tab = 'home';
    for (const c of app.channels) {
      const t = el('button', { id: 'tab-' + c.id, class: 'tab', type: 'button', role: 'tab', 'aria-selected': 'false',
        'aria-controls': 'channel', tabindex: '-1', text: '#' + c.name });
      t.dataset.tab = c.id;
      t.addEventListener('click', () => showTab(c.id));
      $('tabs').append(t);
    }
    // Arrow keys move between tabs, as in a WAI-ARIA tab list.
    $('tabs').addEventListener('keydown', (ev) => {
      const all = tabs();
      const i = all.indexOf(document.activeElement);
      if (i < 0 || (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft')) return;
      ev.preventDefault();
      const next = all[(i + (ev.key === 'ArrowRight' ? 1 : all.length - 1)) % all.length];
      next.focus();
      next.click();
    });
    const who = $('who');
    app.people.forEach((p) => who.append(el('option', { value: p.id, text: p.name + (p.note ? ' (' + p.note + ')' : '') })));
    who.addEventListener('change', () => choose(who.value));
    $('composer').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = $('command').value.trim();
      if (text) sendCommand(text);
    });
    document.querySelectorAll('.hint').forEach((b) => b.addEventListener('click', () => {
      $('command').value = b.textContent;
      sendCommand(b.textContent);
    }));
    $('tab-messages').addEventListener('click', () => showTab('messages'));
    $('tab-home').addEventListener('click', openHome);
    document.addEventListener('keydown', modalKeys);
    // Editing the URL's #USER (or going back) switches user, even with a modal open.
    window.addEventListener('hashchange', () => {
      const id = decodeURIComponent(location.hash.slice(1));
      if (id !== app.me && app.people.some((p) => p.id === id)) { who.value = id; choose(id); }
    });
    if (data.controls) startClock();
    if (data.webhooks) {
      $('webhooks').hidden = false;
      refreshWebhooks();
      setInterval(refreshWebhooks, 2000);
    }
    const wanted = decodeURIComponent(location.hash.slice(1));
    const first = app.people.find((p) => p.id === wanted) || app.people.find((p) => p.id === data.start) || app.people[0];
    if (first) { who.value = first.id; choose(first.id); }
    setInterval(refresh, 1000);
  }

  document.addEventListener('DOMContentLoaded', start);
})();
