//! WhatsApp Cloud-API-shaped webhook parsing and message bodies, shared by the WhatsApp plugins (being written).
