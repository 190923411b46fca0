/**
 * Resources of the hosted KaiCalls platform that a self-hosted KaiCalls server does not
 * implement (it answers them `404 not_found`). Kept so code written against the
 * published 0.1 client compiles and runs unchanged against the hosted API.
 */

import { HttpClient, compact } from '../client.js';
import type { EvalRun, EvalScenario, Workspace } from '../types.js';

type Obj = Record<string, unknown>;

export class SmsResource {
  constructor(private readonly http: HttpClient) {}

  send(params: { to: string; fromAgentId: string; message: string; leadId?: string }): Promise<Obj> {
    return this.http.request('/api/v1/sms/send', {
      method: 'POST',
      body: compact({
        to: params.to,
        from_agent_id: params.fromAgentId,
        message: params.message,
        lead_id: params.leadId,
      }),
    });
  }

  updatePrompt(params: { agentId: string; smsPrompt: string; reason?: string }): Promise<Obj> {
    return this.http.request('/api/v1/sms/update-prompt', {
      method: 'POST',
      body: compact({ agent_id: params.agentId, sms_prompt: params.smsPrompt, reason: params.reason }),
    });
  }

  conversations(params: { id?: string; limit?: number } = {}): Promise<Obj> {
    return this.http.request('/api/v1/sms/conversations', {
      query: { id: params.id, limit: params.limit },
    });
  }

  messages(
    params: { conversationId?: string; direction?: 'inbound' | 'outbound'; after?: string; limit?: number } = {},
  ): Promise<Obj> {
    return this.http.request('/api/v1/sms/messages', {
      query: {
        conversation_id: params.conversationId,
        direction: params.direction,
        after: params.after,
        limit: params.limit,
      },
    });
  }
}

export class WorkspacesResource {
  constructor(private readonly http: HttpClient) {}

  list(): Promise<{ workspaces: Workspace[]; [key: string]: unknown }> {
    return this.http.request('/api/v1/workspaces');
  }

  get(id: string): Promise<Workspace> {
    return this.http.request<Workspace>('/api/v1/workspaces', { query: { id } });
  }

  create(params: { name: string; metadata?: Obj; externalRef?: string }): Promise<Workspace> {
    return this.http.request<Workspace>('/api/v1/workspaces', {
      method: 'POST',
      body: compact({ name: params.name, metadata: params.metadata, external_ref: params.externalRef }),
    });
  }

  /** Sent as given: `{id, name?, metadata?, action?}`. */
  update(params: {
    id: string;
    name?: string;
    metadata?: Obj;
    action?: 'pause' | 'resume' | 'cancel' | 'teardown';
  }): Promise<Obj> {
    return this.http.request('/api/v1/workspaces', { method: 'PATCH', body: compact(params) });
  }
}

export class AnalyticsResource {
  constructor(private readonly http: HttpClient) {}

  dashboard(params: { days?: number } = {}): Promise<Obj> {
    return this.http.request('/api/v1/analytics/dashboard', { query: { days: params.days } });
  }

  calls(params: { days?: number; groupBy?: 'day' | 'week'; agentId?: string } = {}): Promise<Obj> {
    return this.http.request('/api/v1/analytics/calls', {
      query: { days: params.days, group_by: params.groupBy, agent_id: params.agentId },
    });
  }

  funnel(params: { days?: number; source?: string } = {}): Promise<Obj> {
    return this.http.request('/api/v1/analytics/funnel', {
      query: { days: params.days, source: params.source },
    });
  }

  agents(params: { days?: number; agentId?: string } = {}): Promise<Obj> {
    return this.http.request('/api/v1/analytics/agents', {
      query: { days: params.days, agent_id: params.agentId },
    });
  }

  weekly(): Promise<Obj> {
    return this.http.request('/api/v1/analytics/weekly');
  }

  businesses(params: { days?: number } = {}): Promise<Obj> {
    return this.http.request('/api/v1/analytics/businesses', { query: { days: params.days } });
  }
}

export class EvalsResource {
  constructor(private readonly http: HttpClient) {}

  create(params: {
    agentId: string;
    businessId: string;
    name: string;
    description?: string;
    messages: unknown[];
  }): Promise<EvalScenario> {
    return this.http.request<EvalScenario>('/api/v1/evals', {
      method: 'POST',
      body: compact({
        agent_id: params.agentId,
        business_id: params.businessId,
        name: params.name,
        description: params.description,
        messages: params.messages,
      }),
    });
  }

  list(params: { agentId?: string } = {}): Promise<Obj> {
    return this.http.request('/api/v1/evals', { query: { agent_id: params.agentId } });
  }

  get(id: string): Promise<EvalScenario> {
    return this.http.request<EvalScenario>('/api/v1/evals', { query: { id } });
  }

  /** Sent as given. */
  update(params: { id: string; name?: string; description?: string; messages?: unknown[] }): Promise<EvalScenario> {
    return this.http.request<EvalScenario>('/api/v1/evals', { method: 'PATCH', body: compact(params) });
  }

  delete(id: string): Promise<Obj> {
    return this.http.request('/api/v1/evals', { method: 'DELETE', query: { id } });
  }

  run(params: { evalId?: string; agentId?: string; wait?: boolean; maxWaitMs?: number } = {}): Promise<EvalRun | Obj> {
    return this.http.request('/api/v1/evals/run', {
      method: 'POST',
      body: compact({
        eval_id: params.evalId,
        agent_id: params.agentId,
        wait: params.wait,
        max_wait_ms: params.maxWaitMs,
      }),
    });
  }

  getRun(params: { runId?: string; vapiRunId?: string; agentId?: string } = {}): Promise<EvalRun | Obj> {
    return this.http.request('/api/v1/evals/run', {
      query: { run_id: params.runId, vapi_run_id: params.vapiRunId, agent_id: params.agentId },
    });
  }
}

export class CommunicationRunsResource {
  constructor(private readonly http: HttpClient) {}

  /** Sent as given. */
  validate(body: Obj): Promise<Obj> {
    return this.http.request('/api/v1/communication-runs/validate', { method: 'POST', body });
  }

  /** Sent as given. */
  preview(body: Obj): Promise<Obj> {
    return this.http.request('/api/v1/communication-runs/preview', { method: 'POST', body });
  }

  /** Sent as given, with `Idempotency-Key: options.idempotencyKey`. */
  create(body: Obj, options: { idempotencyKey: string }): Promise<Obj> {
    return this.http.request('/api/v1/communication-runs', {
      method: 'POST',
      body,
      idempotencyKey: options.idempotencyKey,
    });
  }

  list(params: { businessId?: string; id?: string; externalRef?: string; limit?: number } = {}): Promise<Obj> {
    return this.http.request('/api/v1/communication-runs', {
      query: {
        business_id: params.businessId,
        id: params.id,
        external_ref: params.externalRef,
        limit: params.limit,
      },
    });
  }

  pause(id: string, options: { businessId?: string } = {}): Promise<Obj> {
    return this.http.request('/api/v1/communication-runs', {
      method: 'PATCH',
      body: compact({ id, action: 'pause', business_id: options.businessId }),
    });
  }

  cancel(id: string, options: { businessId?: string } = {}): Promise<Obj> {
    return this.http.request('/api/v1/communication-runs', {
      method: 'PATCH',
      body: compact({ id, action: 'cancel', business_id: options.businessId }),
    });
  }

  jobs(
    params: { communicationRunId?: string; channel?: 'call' | 'sms'; status?: string; limit?: number } = {},
  ): Promise<Obj> {
    return this.http.request('/api/v1/communication-jobs', {
      query: {
        communication_run_id: params.communicationRunId,
        channel: params.channel,
        status: params.status,
        limit: params.limit,
      },
    });
  }

  attempts(params: { sequenceId?: string; status?: string; limit?: number } = {}): Promise<Obj> {
    return this.http.request('/api/v1/communication-attempts', {
      query: { sequence_id: params.sequenceId, status: params.status, limit: params.limit },
    });
  }
}
