import { HttpClient, compact } from '../client.js';
import { EventStream, type StreamEventsParams } from '../events-stream.js';
import type {
  BusinessSecret,
  DeliveryList,
  EventList,
  Replayed,
  RotatedSecret,
  Success,
  TestSent,
  Webhook,
  WebhookList,
} from '../models.js';

export interface CreateWebhookParams {
  webhookUrl: string;
  businessId?: string;
  /** Event types, e.g. `['call.completed', 'call.failed']` (see `list().events`). */
  events?: string[];
  description?: string;
  /** Updates this subscription instead of creating one. */
  id?: string;
  isActive?: boolean;
}

export class WebhooksResource {
  constructor(private readonly http: HttpClient) {}

  /** Subscriptions (secrets masked) and the event types one can subscribe to. Requires webhooks:read. */
  list(params: { businessId?: string } = {}): Promise<WebhookList> {
    return this.http.request<WebhookList>('/api/v1/webhooks', { query: { business_id: params.businessId } });
  }

  /**
   * Creates (or, with `id`, updates) a subscription. The answer carries its signing
   * secret ONCE, as `webhook_secret`: store it. Requires webhooks:write.
   */
  create(params: CreateWebhookParams): Promise<Webhook> {
    return this.http.request<Webhook>('/api/v1/webhooks', {
      method: 'POST',
      body: compact({
        webhook_url: params.webhookUrl,
        business_id: params.businessId,
        events: params.events,
        description: params.description,
        id: params.id,
        is_active: params.isActive,
      }),
    });
  }

  /** Removes a subscription. Requires webhooks:write. */
  delete(params: { id: string; businessId?: string }): Promise<Success> {
    return this.http.request<Success>('/api/v1/webhooks', {
      method: 'DELETE',
      query: { id: params.id, business_id: params.businessId },
    });
  }

  /** Sends a signed `webhook.test` event to the subscription. Requires webhooks:write. */
  test(params: { id: string; businessId?: string; data?: Record<string, unknown> }): Promise<TestSent> {
    return this.http.request<TestSent>('/api/v1/webhooks/test', {
      method: 'POST',
      body: compact({ id: params.id, business_id: params.businessId, data: params.data }),
    });
  }

  /** Gives the subscription a new secret, returned once as `webhook_secret`. Requires webhooks:write. */
  rotateSecret(params: { id: string; businessId?: string }): Promise<RotatedSecret> {
    return this.http.request<RotatedSecret>('/api/v1/webhooks/rotate-secret', {
      method: 'POST',
      body: compact({ id: params.id, business_id: params.businessId }),
    });
  }

  /** The business secret that signs per-call (`webhookUrl`) deliveries. Requires webhooks:read. */
  secret(params: { businessId?: string } = {}): Promise<BusinessSecret> {
    return this.http.request<BusinessSecret>('/api/v1/webhooks/secret', { query: { business_id: params.businessId } });
  }

  /** A new business secret; the previous one keeps signing for 24 h. Requires webhooks:write. */
  rotateBusinessSecret(params: { businessId?: string } = {}): Promise<BusinessSecret> {
    return this.http.request<BusinessSecret>('/api/v1/webhooks/secret/rotate', {
      method: 'POST',
      query: { business_id: params.businessId },
    });
  }
}

export interface ListEventsParams {
  businessId?: string;
  eventId?: string;
  eventType?: string;
  objectType?: string;
  objectId?: string;
  /** Sent for compatibility with the hosted platform; this server does not filter on it. */
  status?: string;
  /** ISO 8601. */
  from?: string;
  to?: string;
  limit?: number;
}

export interface ListDeliveriesParams {
  businessId?: string;
  eventId?: string;
  webhookId?: string;
  callId?: string;
  status?: 'succeeded' | 'failed' | 'pending';
  limit?: number;
}

export interface ReplayParams {
  businessId?: string;
  eventId?: string;
  eventIds?: string[];
  /** Sent as given (already snake_case). */
  filter?: { event_type?: string; object_id?: string; status?: string };
}

export class EventsResource {
  constructor(private readonly http: HttpClient) {}

  /** Durable events, newest first. Requires events:read. */
  list(params: ListEventsParams = {}): Promise<EventList> {
    return this.http.request<EventList>('/api/v1/events', {
      query: {
        business_id: params.businessId,
        event_id: params.eventId,
        event_type: params.eventType,
        object_type: params.objectType,
        object_id: params.objectId,
        status: params.status,
        from: params.from,
        to: params.to,
        limit: params.limit,
      },
    });
  }

  /**
   * The live events (`GET /api/v1/events/stream`, Server-Sent Events), as an
   * `AsyncIterable<Event>`. Connects at once and yields every event committed from then
   * on (with `lastEventId`: every event after that one first), oldest first, forever.
   * When the connection drops or the server ends the stream, it reconnects with
   * `Last-Event-ID` set to the last event returned, so nothing is missed or repeated
   * (`reconnect: false`: the iteration ends instead). A refused request throws its typed
   * error (`InvalidRequestError`, `UnauthorizedError`, `ForbiddenError`, ...).
   * `close()`, leaving a `for await` loop or aborting `signal` releases it. Requires
   * events:read.
   */
  stream(params: StreamEventsParams = {}): EventStream {
    return new EventStream(this.http, params);
  }

  /** Webhook deliveries with every attempt. Requires events:read. */
  deliveries(params: ListDeliveriesParams = {}): Promise<DeliveryList> {
    return this.http.request<DeliveryList>('/api/v1/event-deliveries', {
      query: {
        business_id: params.businessId,
        event_id: params.eventId,
        webhook_id: params.webhookId,
        call_id: params.callId,
        status: params.status,
        limit: params.limit,
      },
    });
  }

  /** Delivers events again (same `webhook-id`) to every target they went to. Requires events:replay. */
  replay(params: ReplayParams): Promise<Replayed> {
    return this.http.request<Replayed>('/api/v1/events/replay', {
      method: 'POST',
      body: compact({
        business_id: params.businessId,
        event_id: params.eventId,
        event_ids: params.eventIds,
        filter: params.filter,
      }),
    });
  }

  /** Re-emits events for a time range (hosted platform). */
  backfill(params: {
    from: string;
    to: string;
    businessId?: string;
    eventType?: string;
    status?: string;
  }): Promise<Record<string, unknown>> {
    return this.http.request('/api/v1/events/backfill', {
      method: 'POST',
      body: compact({
        from: params.from,
        to: params.to,
        business_id: params.businessId,
        event_type: params.eventType,
        status: params.status,
      }),
    });
  }
}
