import { HttpClient, compact } from '../client.js';
import type { Agent, AgentList } from '../models.js';

export interface CreateAgentParams {
  businessId: string;
  name: string;
  systemPrompt: string;
  firstMessage?: string;
  /** Passed through as-is (note the camelCase `voiceId` inside). */
  voice?: Record<string, unknown>;
  model?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

/** When the business answers (`businessHours`); what is omitted takes the server's default. */
export interface BusinessHoursInput {
  /** IANA time zone (default: the business's). */
  timezone?: string | null;
  /** The days open, of `mon` … `sun` (default: `mon`–`fri`). */
  days?: string[];
  /** Local opening time, `HH:MM` (default `09:00`). */
  open?: string;
  /** Local closing time, `HH:MM` (default `17:00`), after `open`. */
  close?: string;
}

/** Where `transfer_to_human` can hand a caller to a person, and when. */
export interface TransferDestinationInput {
  /** E.164. */
  number: string;
  /** Who answers there ("Front desk"). */
  name?: string | null;
  /** Only for callers whose reason mentions one of these words (any reason when empty). */
  reasons?: string[];
  /** `always` (the default) or `business_hours` (only while open). */
  when?: string;
}

export interface UpdateAgentParams {
  id: string;
  name?: string;
  /** The agent's prompt: the default of `inboundPrompt` and `outboundPrompt`. */
  systemPrompt?: string;
  /** The system prompt of calls the agent answers (default: `systemPrompt`; ≤ 20,000 characters). */
  inboundPrompt?: string;
  /** The system prompt of calls the agent places (default: `systemPrompt`; ≤ 20,000 characters). */
  outboundPrompt?: string;
  /** Hosted platform only, like `outboundLlm` and `smsLlm`. */
  smsPrompt?: string;
  firstMessage?: string;
  /**
   * What the agent says when it answers, with `{{name}}`, `{{business_name}}` and the other
   * call variables filled in (default: "Thank you for calling {{business_name}}…").
   */
  inboundGreeting?: string;
  /** The outbound greeting: another name for `firstMessage`. */
  outboundFirstMessage?: string;
  outboundLlm?: string;
  smsLlm?: string;
  voice?: Record<string, unknown>;
  model?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  maxDuration?: number;
  /** Passed through unchanged (e.g. `{ endCallPhrases: [...] }`). */
  vapiConfig?: Record<string, unknown>;
  /** When the business answers (`{}`: every weekday 09:00–17:00); unset, it is always open. */
  businessHours?: BusinessHoursInput;
  /** Out of hours: `take_message` (the caller leaves a voicemail) or `transfer`. */
  afterHoursAction?: string;
  /** Where `transfer_to_human` hands a caller, in order of preference (replaces the list; ≤ 10). */
  transferDestinations?: TransferDestinationInput[];
  /** `false` removes every transfer destination; `true` needs one. */
  transferEnabled?: boolean;
  /** Shorthand for one destination, always: `transferDestinations: [{ number }]`. */
  transferPhoneNumber?: string;
  /** The Vapi assistant that speaks for this agent on live calls. */
  vapiAssistantId?: string;
}

function hoursBody(h: BusinessHoursInput | undefined): Record<string, unknown> | undefined {
  if (h === undefined) return undefined;
  return compact({ timezone: h.timezone, days: h.days, open: h.open, close: h.close });
}

function destinationBody(d: TransferDestinationInput): Record<string, unknown> {
  return compact({ number: d.number, name: d.name, reasons: d.reasons, when: d.when });
}

export class AgentsResource {
  constructor(private readonly http: HttpClient) {}

  /** Agents across the key's businesses. Requires agents:read. */
  list(): Promise<AgentList> {
    return this.http.request<AgentList>('/api/v1/agents');
  }

  /** One agent with its Vapi assistant id and phone number. Requires agents:read. */
  get(id: string): Promise<Agent> {
    return this.http.request<Agent>('/api/v1/agents', { query: { id } });
  }

  /** Creates an agent. Requires agents:write. */
  create(params: CreateAgentParams): Promise<Agent> {
    return this.http.request<Agent>('/api/v1/agents', {
      method: 'POST',
      body: compact({
        business_id: params.businessId,
        name: params.name,
        system_prompt: params.systemPrompt,
        first_message: params.firstMessage,
        voice: params.voice,
        model: params.model,
        metadata: params.metadata,
      }),
    });
  }

  /** Partial update: only the fields given are sent. Requires agents:write. */
  update(params: UpdateAgentParams): Promise<Agent> {
    return this.http.request<Agent>('/api/v1/agents', {
      method: 'PATCH',
      body: compact({
        id: params.id,
        name: params.name,
        system_prompt: params.systemPrompt,
        inbound_prompt: params.inboundPrompt,
        outbound_prompt: params.outboundPrompt,
        sms_prompt: params.smsPrompt,
        first_message: params.firstMessage,
        inbound_greeting: params.inboundGreeting,
        outbound_first_message: params.outboundFirstMessage,
        outbound_llm: params.outboundLlm,
        sms_llm: params.smsLlm,
        voice: params.voice,
        model: params.model,
        metadata: params.metadata,
        max_duration: params.maxDuration,
        vapi_config: params.vapiConfig,
        business_hours: hoursBody(params.businessHours),
        after_hours_action: params.afterHoursAction,
        transfer_destinations: params.transferDestinations?.map(destinationBody),
        transfer_enabled: params.transferEnabled,
        transfer_phone_number: params.transferPhoneNumber,
        vapi_assistant_id: params.vapiAssistantId,
      }),
    });
  }

  /** Configuration version history (hosted platform). Requires agents:read. */
  versions(params: { agentId: string; version?: number; limit?: number }): Promise<Record<string, unknown>> {
    return this.http.request('/api/v1/agents/versions', {
      query: { agent_id: params.agentId, version: params.version, limit: params.limit },
    });
  }
}
