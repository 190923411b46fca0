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

export interface UpdateAgentParams {
  id: string;
  name?: string;
  /** The agent's prompt (what this server stores; the `*Prompt` fields below are the hosted platform's). */
  systemPrompt?: string;
  inboundPrompt?: string;
  outboundPrompt?: string;
  smsPrompt?: string;
  firstMessage?: string;
  outboundFirstMessage?: string;
  outboundLlm?: string;
  smsLlm?: string;
  voice?: Record<string, unknown>;
  model?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  maxDuration?: number;
  /** Passed through unchanged (e.g. `{ endCallPhrases: [...] }`). */
  vapiConfig?: Record<string, unknown>;
  transferEnabled?: boolean;
  transferPhoneNumber?: string;
  /** The Vapi assistant that speaks for this agent on live calls. */
  vapiAssistantId?: string;
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
        outbound_first_message: params.outboundFirstMessage,
        outbound_llm: params.outboundLlm,
        sms_llm: params.smsLlm,
        voice: params.voice,
        model: params.model,
        metadata: params.metadata,
        max_duration: params.maxDuration,
        vapi_config: params.vapiConfig,
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
