// The workflow builder for owners and managers: the list of workflows, and an editor of one workflow's
// trigger and step tree (add, move, duplicate and delete steps and their paths; each step configured with
// a form and a variable picker; the server's problems shown on the step they are in), publishing, and the
// history of its runs with each run's log. The definition is edited as the JSON the API takes.

import { get, getAll, post, put, del } from './api.js';
import { h, fill } from './dom.js';
import { t, valueLabel } from './i18n.js';

const TRIGGERS = ['manual', 'conversation_opened', 'conversation_closed', 'contact_tag_updated', 'contact_field_updated', 'lifecycle_updated', 'shortcut', 'incoming_webhook'];
const ANSWERS = ['text', 'multiple_choice', 'number', 'date', 'phone', 'email', 'url', 'rating'];
const OPERATORS = ['equal', 'not_equal', 'contains', 'not_contains', 'exists', 'not_exists', 'greater_than', 'less_than', 'before', 'after', 'has_any_of', 'has_all_of', 'has_none_of'];
const LIST_OPERATORS = ['has_any_of', 'has_all_of', 'has_none_of'];
const VARIABLES = [
  '$contact.first_name', '$contact.last_name', '$contact.name', '$contact.phone', '$contact.email', '$contact.country',
  '$contact.lifecycle_stage', '$contact.tags', '$assignee.name', '$assignee.email', '$assignee.status',
  '$conversation.last_channel_id', '$conversation.minutes_since_last_incoming', '$message.text', '$message.type',
  '$last_outgoing.source', '$system.current_date', '$system.current_time', '$system.current_datetime',
];

// Each step type's form: [path in the step, kind, options or a condition on the step].
const FIELDS = {
  send_message: [['text', 'longtext'], ['channel_id', 'number'], ['per_channel', 'json']],
  ask_question: [
    ['text', 'longtext'],
    ['answer.type', 'answer'],
    ['answer.options', 'list', (s) => s.answer?.type === 'multiple_choice'],
    ['answer.min', 'number', (s) => s.answer?.type === 'number'],
    ['answer.max', 'number', (s) => s.answer?.type === 'number'],
    ['save_to', 'saveto'],
    ['timeout_seconds', 'number'],
  ],
  update_tag: [['action', ['add', 'remove']], ['tags', 'list']],
  update_field: [['field', 'text'], ['value', 'text']],
  branch: [],
  wait: [['seconds', 'number']],
  jump: [['to', 'step']],
  assign: [
    ['to', ['user', 'team', 'workspace', 'unassign']],
    ['user_id', 'user', (s) => (s.to || 'user') === 'user'],
    ['team_id', 'team', (s) => s.to === 'team'],
    ['rule', ['round_robin', 'least_open'], (s) => ['team', 'workspace'].includes(s.to)],
    ['online_only', 'checkbox', (s) => ['team', 'workspace'].includes(s.to)],
    ['max_open', 'number', (s) => ['team', 'workspace'].includes(s.to)],
    ['timeout_seconds', 'number', (s) => ['team', 'workspace'].includes(s.to)],
  ],
  add_comment: [['text', 'longtext'], ['mentions', 'users']],
  date_time: [['timezone', 'text'], ['business_hours', 'json'], ['date_range', 'json']],
  trigger_workflow: [['workflow_id', 'workflow']],
  open_conversation: [],
  close_conversation: [['category_id', 'number'], ['summary', 'text']],
};
// The lists of steps under a step, besides a branch step's branches and a plugin's named branches.
const PATHS = { send_message: ['on_failure'], ask_question: ['on_timeout', 'on_failure'], assign: ['on_timeout'], date_time: ['on_failure'] };

const pathGet = (o, path) => path.split('.').reduce((v, k) => (v == null ? undefined : v[k]), o);
function pathSet(o, path, value) {
  const keys = path.split('.');
  let at = o;
  for (const k of keys.slice(0, -1)) at = at[k] ??= {};
  const last = keys[keys.length - 1];
  if (value === undefined || value === '' || (Array.isArray(value) && !value.length)) delete at[last];
  else at[last] = value;
}

/**
 * Every step list under `step`, as [label, the list, heading] (created empty when missing, so steps can be
 * added); the built-in paths (else, timeout, failure) carry their heading in the user's language, a
 * branch's is its name.
 */
function childLists(step) {
  if (step.type === 'branch') {
    step.branches ??= [];
    step.else ??= [];
    return [...step.branches.map((b) => [b.name || '…', (b.steps ??= [])]), ['else', step.else, t('path.else')]];
  }
  if (step.type === 'plugin') return Object.entries((step.branches ??= {})).map(([name, list]) => [name, list]);
  return (PATHS[step.type] || []).map((p) => [p.replace('on_', ''), (step[p] ??= []), t(`path.${p.replace('on_', '')}`)]);
}

function allSteps(list, out = []) {
  for (const s of list) {
    out.push(s);
    for (const [, children] of childLists(s)) allSteps(children, out);
  }
  return out;
}

/** The definition as the API should get it: no empty optional lists left behind by the editor. */
function clean(definition) {
  const copy = structuredClone(definition);
  const strip = (list) => {
    for (const s of list) {
      for (const p of Object.values(PATHS).flat()) if (Array.isArray(s[p]) && !s[p].length) delete s[p];
      if (s.type === 'branch') {
        s.branches.forEach((b) => strip(b.steps));
        strip(s.else);
      } else if (s.type === 'plugin') Object.values(s.branches || {}).forEach(strip);
      else for (const p of PATHS[s.type] || []) if (s[p]) strip(s[p]);
    }
  };
  strip(copy.steps ?? []);
  return copy;
}

export async function showWorkflows(body, ctx) {
  const page = new Builder(body, ctx);
  await page.list();
}

class Builder {
  constructor(body, { directory, put: setTitle }) {
    this.body = body;
    this.directory = directory;
    this.setTitle = setTitle;
  }

  async list() {
    const workflows = (await getAll('/workflows')).items;
    const error = h('p', { class: 'form-error', role: 'alert' });
    const name = h('input', { name: 'name', required: true, placeholder: t('workflows.name'), autocomplete: 'off' });
    const trigger = h('select', { name: 'trigger' }, TRIGGERS.map((x) => h('option', { value: x }, t(`trigger.${x}`))));
    const create = h(
      'form',
      {
        class: 'settings-form new-workflow',
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            const made = await post('/workflows', { name: name.value.trim(), definition: { trigger: { type: trigger.value }, steps: [] } });
            await this.edit(made.id);
          } catch (err) {
            error.textContent = err.message;
          }
        },
      },
      h('label', { class: 'field' }, h('span', {}, t('workflows.name')), name),
      h('label', { class: 'field' }, h('span', {}, t('workflows.trigger')), trigger),
      error,
      h('div', { class: 'composer-actions' }, h('button', { type: 'submit', class: 'primary' }, t('workflows.create'))),
    );
    this.setTitle(
      t('settings.workflows'),
      workflows.length
        ? h(
            'ul',
            { class: 'settings-list workflow-list' },
            workflows.map((w) =>
              h(
                'li',
                { dataset: { id: w.id } },
                h('button', { class: 'link open-workflow', dataset: { id: w.id }, onclick: () => this.edit(w.id) }, w.name),
                h('span', { class: `badge status-${w.status}` }, t(`workflows.${w.status}`)),
                w.published_version ? h('small', { class: 'muted' }, ` v${w.published_version}`) : null,
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('settings.none')),
      h('h3', {}, t('workflows.new')),
      create,
    );
  }

  async edit(id) {
    const [view, steps, workflows] = await Promise.all([get(`/workflows/${id}`), get('/workflow-steps'), getAll('/workflows')]);
    this.id = id;
    this.view = view;
    this.stepTypes = steps;
    this.workflows = workflows.items.filter((w) => w.id !== id);
    this.definition = structuredClone(view.definition);
    this.definition.steps ??= [];
    this.name = view.name;
    this.render();
  }

  problemsByStep() {
    const by = new Map();
    for (const p of this.view.problems || []) {
      const key = p.step_id || '';
      if (!by.has(key)) by.set(key, []);
      by.get(key).push(p);
    }
    return by;
  }

  render() {
    const w = this.view;
    const problems = this.problemsByStep();
    this.status = h('p', { class: 'form-error workflow-error', role: 'alert' });
    const general = (problems.get('') || []).map((p) => h('li', {}, h('code', {}, p.field), ' ', p.message));
    const nameInput = h('input', { class: 'workflow-name', value: this.name, oninput: (e) => (this.name = e.target.value) });
    this.setTitle(
      w.name,
      h(
        'div',
        { class: 'workflow-head' },
        h('button', { class: 'link back-to-workflows', onclick: () => this.list() }, t('workflows.back')),
        h('span', { class: `badge status-${w.status}` }, t(`workflows.${w.status}`)),
        w.published_version ? h('small', { class: 'muted' }, ` v${w.published_version}`) : null,
      ),
      h('label', { class: 'field' }, h('span', {}, t('workflows.name')), nameInput),
      this.triggerForm(),
      general.length ? h('ul', { class: 'problems general-problems' }, general) : null,
      h('h3', {}, t('workflows.steps')),
      this.stepList(this.definition.steps, problems),
      h(
        'div',
        { class: 'composer-actions workflow-actions' },
        h('button', { class: 'primary save-workflow', onclick: () => this.save() }, t('workflows.save')),
        h('button', { class: 'publish-workflow', onclick: () => this.publish() }, t('workflows.publish')),
        w.status === 'published' ? h('button', { class: 'unpublish-workflow', onclick: () => this.act('unpublish') }, t('workflows.unpublish')) : null,
        h('button', { class: 'link danger delete-workflow', onclick: () => this.remove() }, t('settings.remove')),
      ),
      this.status,
      this.view.webhook_url ? h('p', { class: 'webhook' }, t('workflows.webhook'), ' ', h('code', {}, this.view.webhook_url)) : null,
      h('h3', {}, t('workflows.runs')),
      h('div', { class: 'workflow-runs' }, h('button', { class: 'link show-runs', onclick: (e) => this.runs(e.target.parentElement) }, t('workflows.show_runs'))),
    );
  }

  triggerForm() {
    const trigger = this.definition.trigger;
    const rerender = () => this.render();
    const fields = [];
    const list = (key) => this.control({ kind: 'list', get: () => trigger[key], set: (v) => pathSet(trigger, key, v) });
    if (trigger.type === 'conversation_opened') fields.push([t('workflows.sources'), list('sources')]);
    if (trigger.type === 'contact_tag_updated') {
      fields.push([t('workflows.tags'), list('tags')]);
      fields.push([t('workflows.tag_action'), this.control({ kind: ['any', 'added', 'removed'], choices: 'choice.tag_action', get: () => trigger.action || 'any', set: (v) => (trigger.action = v) })]);
    }
    if (trigger.type === 'contact_field_updated') fields.push([t('workflows.fields'), list('fields')]);
    if (trigger.type === 'lifecycle_updated') fields.push([t('workflows.stages'), list('stages')]);
    if (trigger.type === 'shortcut') fields.push([t('workflows.form_fields'), this.control({ kind: 'json', get: () => trigger.fields, set: (v) => pathSet(trigger, 'fields', v) })]);
    if (trigger.type === 'incoming_webhook') {
      fields.push([t('workflows.identify_by'), this.control({ kind: ['phone', 'email', 'contact_id'], choices: 'choice.identify_by', get: () => trigger.identify_by, set: (v) => (trigger.identify_by = v) })]);
      fields.push([t('workflows.key'), this.control({ kind: 'text', get: () => trigger.key, set: (v) => pathSet(trigger, 'key', v) })]);
    }
    const type = h(
      'select',
      {
        class: 'trigger-type',
        onchange: (e) => {
          this.definition.trigger = { type: e.target.value };
          if (e.target.value === 'incoming_webhook') Object.assign(this.definition.trigger, { identify_by: 'phone', key: 'phone' });
          rerender();
        },
      },
      TRIGGERS.map((x) => h('option', { value: x, selected: x === trigger.type }, t(`trigger.${x}`))),
    );
    const once = h('input', { type: 'checkbox', class: 'once-per-contact', checked: !!this.definition.trigger_once_per_contact, onchange: (e) => (this.definition.trigger_once_per_contact = e.target.checked) });
    return h(
      'fieldset',
      { class: 'trigger' },
      h('legend', {}, t('workflows.trigger')),
      h('label', { class: 'field' }, h('span', {}, t('workflows.trigger_event')), type),
      fields.map(([label, control]) => h('label', { class: 'field' }, h('span', {}, label), control)),
      h('label', { class: 'field inline' }, once, h('span', {}, t('workflows.once'))),
    );
  }

  stepList(list, problems) {
    const types = h(
      'select',
      { class: 'add-step-type', 'aria-label': t('workflows.step_type') },
      Object.keys(FIELDS).map((x) => h('option', { value: x }, t(`step.${x}`))),
      this.stepTypes.filter((s) => s.type === 'plugin').map((s) => h('option', { value: `plugin:${s.plugin}` }, s.name)),
    );
    const add = () => {
      list.push(this.newStep(types.value));
      this.render();
    };
    return h(
      'div',
      { class: 'step-list' },
      h('ol', { class: 'steps' }, list.map((step, i) => this.stepCard(list, i, problems))),
      h('div', { class: 'add-step' }, types, h('button', { class: 'add-step-button', onclick: add }, t('workflows.add_step'))),
    );
  }

  newStep(kind) {
    const used = new Set(allSteps(this.definition.steps).map((s) => s.id));
    const type = kind.startsWith('plugin:') ? 'plugin' : kind;
    const base = kind.startsWith('plugin:') ? kind.slice(7) : kind;
    let n = 1;
    while (used.has(`${base}-${n}`)) n += 1;
    const step = { id: `${base}-${n}`, type };
    if (type === 'plugin') Object.assign(step, { plugin: kind.slice(7), inputs: {} });
    if (['send_message', 'ask_question', 'add_comment'].includes(type)) step.text = '';
    if (type === 'ask_question') step.answer = { type: 'text' };
    if (type === 'update_tag') Object.assign(step, { action: 'add', tags: [] });
    if (type === 'branch') Object.assign(step, { branches: [{ name: 'Branch 1', conditions: [{ variable: '$contact.tags', operator: 'has_any_of', value: [] }], steps: [] }], else: [] });
    if (type === 'wait') step.seconds = 3600;
    if (type === 'jump') step.to = this.definition.steps[0]?.id || '';
    return step;
  }

  /** A deep copy of a step with new ids for it and every step under it. */
  duplicate(step) {
    const copy = structuredClone(step);
    const used = new Set(allSteps(this.definition.steps).map((s) => s.id));
    for (const s of allSteps([copy])) {
      let n = 2;
      const base = s.id.replace(/-copy(-\d+)?$/, '');
      let id = `${base}-copy`;
      while (used.has(id)) id = `${base}-copy-${n++}`;
      used.add(id);
      s.id = id;
    }
    return copy;
  }

  stepCard(list, i, problems) {
    const step = list[i];
    const mine = problems.get(step.id) || [];
    const move = (to) => {
      if (to < 0 || to >= list.length) return;
      [list[i], list[to]] = [list[to], list[i]];
      this.render();
    };
    const plugin = step.type === 'plugin' ? this.stepTypes.find((s) => s.plugin === step.plugin) : null;
    const title = step.type === 'plugin' ? plugin?.name || step.plugin : t(`step.${step.type}`);
    return h(
      'li',
      { class: `step${mine.length ? ' has-problems' : ''}`, dataset: { step: step.id, type: step.type } },
      h(
        'div',
        { class: 'step-head' },
        h('strong', {}, title),
        ' ',
        h('code', { class: 'step-id' }, step.id),
        h(
          'span',
          { class: 'step-tools' },
          h('button', { class: 'link move-up', title: t('workflows.up'), onclick: () => move(i - 1) }, '↑'),
          h('button', { class: 'link move-down', title: t('workflows.down'), onclick: () => move(i + 1) }, '↓'),
          h('button', { class: 'link duplicate-step', title: t('workflows.duplicate'), onclick: () => { list.splice(i + 1, 0, this.duplicate(step)); this.render(); } }, t('workflows.copy')),
          h('button', { class: 'link danger delete-step', title: t('settings.remove'), onclick: () => { list.splice(i, 1); this.render(); } }, '✕'),
        ),
      ),
      mine.length ? h('ul', { class: 'problems step-problems' }, mine.map((p) => h('li', {}, h('code', {}, p.field), ' ', p.message))) : null,
      h('div', { class: 'step-form' }, this.stepForm(step, plugin)),
      this.children(step, problems),
    );
  }

  stepForm(step, plugin) {
    if (step.type === 'branch') return this.branchForm(step);
    if (step.type === 'plugin') return this.pluginForm(step, plugin);
    return (FIELDS[step.type] || [])
      .filter(([, , when]) => typeof when !== 'function' || when(step))
      .map(([path, kind]) => {
        const control = this.control({
          kind,
          choices: `choice.${step.type}.${path}`,
          get: () => pathGet(step, path),
          set: (v) => {
            if (path === 'answer.type') step.answer = { type: v };
            // Texts stay even when empty, so the server names the empty text rather than a missing field.
            else if (path === 'text') step.text = v ?? '';
            else pathSet(step, path, v);
          },
          rerender: kind === 'answer' || kind === 'saveto' || path === 'to',
        });
        return h('label', { class: `field field-${path.replace('.', '-')}` }, h('span', {}, t(`field.${path}`)), control);
      });
  }

  pluginForm(step, plugin) {
    if (!plugin) return h('p', { class: 'form-error' }, t('workflows.no_plugin', { id: step.plugin }));
    step.inputs ??= {};
    const props = plugin.inputs_schema?.properties || {};
    const required = plugin.inputs_schema?.required || [];
    const fields = Object.entries(props).map(([name, schema]) => {
      const kind = schema.enum ? schema.enum : schema.type === 'string' ? (name === 'body' || name === 'instructions' ? 'longtext' : 'text') : schema.type === 'integer' || schema.type === 'number' ? 'number' : schema.type === 'boolean' ? 'checkbox' : 'json';
      const control = this.control({ kind, get: () => step.inputs[name], set: (v) => pathSet(step.inputs, name, v) });
      return h('label', { class: `field input-${name}` }, h('span', {}, name, required.includes(name) ? ' *' : ''), schema.description ? h('small', { class: 'muted' }, schema.description) : null, control);
    });
    const missing = plugin.branches.filter((b) => !(b in (step.branches ??= {})));
    const addBranch = missing.length
      ? h(
          'div',
          { class: 'add-path' },
          missing.map((b) => h('button', { class: 'link add-plugin-branch', dataset: { branch: b }, onclick: () => { step.branches[b] = []; this.render(); } }, t('workflows.add_path', { name: b }))),
        )
      : null;
    return [fields, plugin.outputs.length ? h('p', { class: 'muted' }, t('workflows.outputs'), ' ', plugin.outputs.filter((o) => !o.startsWith('$')).map((o) => `$variables.${o}`).join(', ')) : null, addBranch];
  }

  branchForm(step) {
    const branches = step.branches;
    return [
      branches.map((b, bi) =>
        h(
          'fieldset',
          { class: 'branch', dataset: { branch: bi } },
          h('legend', {}, t('workflows.branch')),
          h('label', { class: 'field' }, h('span', {}, t('workflows.name')), h('input', { class: 'branch-name', value: b.name, oninput: (e) => (b.name = e.target.value), onchange: () => this.render() })),
          h('label', { class: 'field' }, h('span', {}, t('workflows.match')), this.control({ kind: ['all', 'any'], choices: 'choice.match', get: () => b.match || 'all', set: (v) => (b.match = v) })),
          h(
            'ul',
            { class: 'conditions' },
            b.conditions.map((c, ci) =>
              h(
                'li',
                { class: 'condition' },
                this.control({ kind: 'variable', get: () => c.variable, set: (v) => (c.variable = v) }),
                this.control({ kind: OPERATORS, choices: 'choice.operator', get: () => c.operator, set: (v) => (c.operator = v), rerender: true }),
                ['exists', 'not_exists'].includes(c.operator)
                  ? null
                  : LIST_OPERATORS.includes(c.operator)
                    ? this.control({ kind: 'list', get: () => c.value, set: (v) => (c.value = v ?? []) })
                    : this.control({ kind: 'text', get: () => c.value, set: (v) => (c.value = v) }),
                h('button', { class: 'link danger remove-condition', onclick: () => { b.conditions.splice(ci, 1); this.render(); } }, '✕'),
              ),
            ),
          ),
          h('button', { class: 'link add-condition', onclick: () => { b.conditions.push({ variable: '$contact.first_name', operator: 'exists' }); this.render(); } }, t('workflows.add_condition')),
          branches.length > 1 ? h('button', { class: 'link danger remove-branch', onclick: () => { branches.splice(bi, 1); this.render(); } }, t('workflows.remove_branch')) : null,
        ),
      ),
      branches.length < 9
        ? h('button', { class: 'link add-branch', onclick: () => { branches.push({ name: `Branch ${branches.length + 1}`, conditions: [], steps: [] }); this.render(); } }, t('workflows.add_branch'))
        : null,
    ];
  }

  children(step, problems) {
    const lists = childLists(step);
    if (!lists.length) return null;
    return h(
      'div',
      { class: 'paths' },
      lists.map(([label, list, heading]) => h('div', { class: 'path', dataset: { path: label } }, h('h4', {}, heading ?? t('workflows.path', { name: label })), this.stepList(list, problems))),
    );
  }

  /** One input bound to a value: `kind` is a type name or a list of options. */
  /**
   * A form control for one value. A list of values (`kind` an array) shows each by its string
   * `{choices}.{value}` in the user's language when there is one (a plugin's own values have none).
   */
  control({ kind, get: read, set, rerender, choices }) {
    const value = read();
    const changed = (v) => {
      set(v);
      if (rerender) this.render();
    };
    if (Array.isArray(kind)) {
      return h('select', { onchange: (e) => changed(e.target.value) }, h('option', { value: '' }, '—'), kind.map((o) => h('option', { value: o, selected: o === value }, choices ? valueLabel(choices, o) : o)));
    }
    const users = () => this.directory.users ? [...this.directory.users.values()] : [];
    switch (kind) {
      case 'answer':
        return h('select', { class: 'answer-type', onchange: (e) => changed(e.target.value) }, ANSWERS.map((a) => h('option', { value: a, selected: a === value }, t(`answer.${a}`))));
      case 'number':
        return h('input', { type: 'number', value: value ?? '', oninput: (e) => set(e.target.value === '' ? undefined : Number(e.target.value)) });
      case 'checkbox':
        return h('input', { type: 'checkbox', checked: !!value, onchange: (e) => set(e.target.checked || undefined) });
      case 'list':
        return h('input', { value: (value || []).join(', '), placeholder: t('workflows.comma'), oninput: (e) => set(e.target.value.split(',').map((x) => x.trim()).filter(Boolean)) });
      case 'json':
        return h('textarea', {
          rows: 3,
          class: 'json',
          oninput: (e) => {
            try {
              set(e.target.value.trim() ? JSON.parse(e.target.value) : undefined);
              e.target.setCustomValidity('');
            } catch {
              e.target.setCustomValidity(t('workflows.bad_json'));
            }
          },
        }, value === undefined ? '' : JSON.stringify(value));
      case 'user':
        return h('select', { onchange: (e) => set(e.target.value ? Number(e.target.value) : undefined) }, h('option', { value: '' }, '—'), users().map((u) => h('option', { value: u.id, selected: u.id === value }, u.name)));
      case 'users':
        return h('select', { multiple: true, onchange: (e) => set([...e.target.selectedOptions].map((o) => Number(o.value))) }, users().map((u) => h('option', { value: u.id, selected: (value || []).includes(u.id) }, u.name)));
      case 'team':
        return h('select', { onchange: (e) => set(e.target.value ? Number(e.target.value) : undefined) }, h('option', { value: '' }, '—'), (this.directory.teams ? [...this.directory.teams.values()] : []).map((x) => h('option', { value: x.id, selected: x.id === value }, x.name)));
      case 'workflow':
        return h('select', { onchange: (e) => set(e.target.value ? Number(e.target.value) : undefined) }, h('option', { value: '' }, '—'), this.workflows.map((w) => h('option', { value: w.id, selected: w.id === value }, w.name)));
      case 'step':
        return h('select', { onchange: (e) => set(e.target.value) }, h('option', { value: '' }, '—'), allSteps(this.definition.steps).map((s) => h('option', { value: s.id, selected: s.id === value }, s.id)));
      case 'saveto': {
        const mode = value === 'tag' ? 'tag' : value?.variable !== undefined ? 'variable' : value?.contact_field !== undefined ? 'contact_field' : '';
        const name = h('input', { class: 'save-name', value: value?.variable ?? value?.contact_field ?? '', hidden: !['variable', 'contact_field'].includes(mode), oninput: (e) => set({ [mode]: e.target.value }) });
        const which = h('select', { class: 'save-mode', onchange: (e) => changed(e.target.value === 'tag' ? 'tag' : e.target.value ? { [e.target.value]: '' } : undefined) },
          ['', 'variable', 'contact_field', 'tag'].map((m) => h('option', { value: m, selected: m === mode }, m ? t(`save.${m}`) : '—')));
        return h('span', { class: 'save-to' }, which, name);
      }
      case 'variable': {
        const input = h('input', { class: 'condition-variable', value: value ?? '', list: 'workflow-variables', oninput: (e) => set(e.target.value.trim()) });
        return [input, this.variableList()];
      }
      default: {
        const box = kind === 'longtext'
          ? h('textarea', { rows: 2, oninput: (e) => set(e.target.value) }, value ?? '')
          : h('input', { value: value ?? '', oninput: (e) => set(e.target.value) });
        return h('span', { class: 'with-variables' }, box, this.picker(box, set));
      }
    }
  }

  variableList() {
    if (document.getElementById('workflow-variables')) return null;
    return h('datalist', { id: 'workflow-variables' }, this.variables().map((v) => h('option', { value: v })));
  }

  /** The variables a text can use: the standard ones and those this workflow's steps set. */
  variables() {
    const own = new Set();
    for (const s of allSteps(this.definition.steps)) {
      if (s.save_to?.variable) own.add(s.save_to.variable);
      for (const m of s.inputs?.mappings || []) if (m.variable) own.add(m.variable);
      const plugin = s.type === 'plugin' && this.stepTypes.find((x) => x.plugin === s.plugin);
      for (const o of plugin?.outputs || []) if (!o.startsWith('$')) own.add(o);
    }
    for (const f of this.definition.trigger.fields || []) if (f.name) own.add(f.name);
    return [...VARIABLES, ...[...own].map((v) => `$variables.${v}`)];
  }

  /** A menu that inserts a variable where the cursor is. */
  picker(box, set) {
    return h(
      'select',
      {
        class: 'variable-picker',
        'aria-label': t('workflows.insert_variable'),
        onchange: (e) => {
          const v = e.target.value;
          if (!v) return;
          const at = box.selectionStart ?? box.value.length;
          box.value = `${box.value.slice(0, at)}${v}${box.value.slice(box.selectionEnd ?? at)}`;
          set(box.value);
          e.target.value = '';
          box.focus();
        },
      },
      h('option', { value: '' }, t('workflows.insert_variable')),
      this.variables().map((v) => h('option', { value: v }, v)),
    );
  }

  async save() {
    this.status.textContent = '';
    this.view = await put(`/workflows/${this.id}`, { name: this.name.trim(), definition: clean(this.definition) });
    this.definition = structuredClone(this.view.definition);
    this.render();
    this.status.textContent = this.view.problems.length ? t('workflows.saved_with_problems', { n: this.view.problems.length }) : t('workflows.saved');
    this.status.classList.toggle('ok', !this.view.problems.length);
  }

  async publish() {
    try {
      await this.save();
      if (this.view.problems.length) return;
      await post(`/workflows/${this.id}/publish`, {});
      await this.edit(this.id);
      this.status.textContent = t('workflows.published_now');
      this.status.classList.add('ok');
    } catch (err) {
      this.status.textContent = err.message;
    }
  }

  async act(what) {
    try {
      await post(`/workflows/${this.id}/${what}`, {});
      await this.edit(this.id);
    } catch (err) {
      this.status.textContent = err.message;
    }
  }

  async remove() {
    if (!window.confirm(t('workflows.confirm_delete', { name: this.view.name }))) return;
    await del(`/workflows/${this.id}`);
    await this.list();
  }

  async runs(el) {
    const runs = (await get(`/workflows/${this.id}/runs?limit=50`)).items;
    const log = h('div', { class: 'run-log' });
    fill(
      el,
      runs.length
        ? h(
            'ul',
            { class: 'settings-list runs' },
            runs.map((r) =>
              h(
                'li',
                { class: 'run', dataset: { id: r.id, status: r.status } },
                h('button', { class: 'link open-run', onclick: () => this.runLog(r.id, log) }, `#${r.id}`),
                ' ',
                h('span', { class: `badge run-${r.status}` }, t(`run.${r.status}`)),
                ' ',
                h('small', { class: 'muted' }, t('workflows.run_of', { contact: r.contact_id, version: r.version }), ' · ', new Date(r.started_at).toLocaleString()),
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('workflows.no_runs')),
      log,
    );
  }

  async runLog(id, el) {
    const run = await get(`/workflow-runs/${id}`);
    fill(
      el,
      h('h4', {}, t('workflows.run_log', { id })),
      h('p', { class: 'muted' }, t(`run.${run.status}`), run.end_reason ? ` · ${run.end_reason}` : '', run.position ? ` · ${t('workflows.at_step', { id: run.position })}` : ''),
      h(
        'table',
        { class: 'run-steps' },
        h('thead', {}, h('tr', {}, ['step', 'type', 'branch', 'output', 'error'].map((c) => h('th', {}, t(`runlog.${c}`))))),
        h(
          'tbody',
          {},
          run.steps.map((s) =>
            h(
              'tr',
              { dataset: { step: s.step_id } },
              h('td', {}, h('code', {}, s.step_id)),
              h('td', {}, s.step_type),
              h('td', {}, s.branch || ''),
              h('td', {}, h('code', { class: 'json' }, JSON.stringify(s.output))),
              h('td', { class: s.error ? 'form-error' : '' }, s.error || ''),
            ),
          ),
        ),
      ),
    );
  }
}
