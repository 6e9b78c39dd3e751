// The realtime websocket with resume: reconnects with the last sequence seen, so nothing is missed;
// tells the page when the connection is lost and when it is back.

export class Realtime {
  constructor({ onEvent, onTyping, onState }) {
    this.onEvent = onEvent;
    this.onTyping = onTyping || (() => {});
    this.onState = onState || (() => {});
    this.lastSeq = null;
    this.retry = 0;
    this.closed = false;
  }

  start() {
    this.closed = false;
    this.connect();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const after = this.lastSeq === null ? '' : `?after=${this.lastSeq}`;
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events/ws${after}`);
    this.ws = ws;
    ws.onmessage = (msg) => {
      let frame;
      try {
        frame = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (frame.type === 'ready') {
        const resumed = this.lastSeq !== null;
        if (this.lastSeq === null) this.lastSeq = frame.last_seq;
        this.retry = 0;
        this.onState('connected', resumed);
      } else if (frame.type === 'event') {
        this.lastSeq = frame.event.seq;
        this.onEvent(frame.event);
      } else if (frame.type === 'typing') {
        this.onTyping(frame.typing);
      }
    };
    ws.onclose = () => {
      if (this.closed) return;
      this.onState('lost');
      const delay = Math.min(30000, 500 * 2 ** this.retry++);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
}
