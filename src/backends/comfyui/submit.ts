import { UserFacingError } from '../../core/errors.js';
import type { StoredImage } from '../../core/request.js';
import type { Logger } from '../../log.js';
import type { BackendJob } from '../backend.js';
import { promptRefusal, uploadFailure } from './errors.js';
import { buildGraph, type GraphOptions } from './graph.js';
import type { LoraFiles } from './lora-files.js';
import type { ComfyGraph } from './nodes.js';
import { locatePrompt } from './prompt-state.js';
import type { ComfyServer } from './server.js';
import { templateFor, type WorkflowTemplates } from './template.js';

/**
 * Puts one prompt on a server under the id chosen before (spec §3, §5): uploads the job's images,
 * fills the workflow, and posts it. The server does not de-duplicate, so an unclear answer is checked
 * in queue and history before the one more try.
 */

/** Subfolder of the server's input folder for uploaded images (spec §5). */
export const INPUT_SUBFOLDER = 'kinema';

const EXTENSIONS: Record<StoredImage['contentType'], string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

export interface SubmitterOptions {
  clientId: string;
  templates: WorkflowTemplates;
  graphOptions: GraphOptions;
  uploadTimeoutMs: number;
  /** Where LoRA URLs become files the servers load; none: a LoRA is refused. */
  loras?: LoraFiles;
}

export type SubmitTarget = Pick<ComfyServer, 'client' | 'host'>;

export class PromptSubmitter {
  constructor(private readonly options: SubmitterOptions) {}

  /** Uploads the job's images and fills the workflow (again on a resubmit: the server may be new). */
  async prepare(
    server: SubmitTarget,
    job: BackendJob,
    promptId: string,
    signal: AbortSignal,
  ): Promise<ComfyGraph> {
    const request = job.request;
    const start = await this.readImage(job, request.input_image, `${promptId}_start`);
    const startImagePath = await this.upload(server, start, signal);
    let endImagePath: string | undefined;
    if (request.end_frame) {
      const end = await this.readImage(job, request.end_frame, `${promptId}_end`);
      endImagePath = await this.upload(server, end, signal);
    }
    const loraName = request.lora_file ? await this.loraName(request.lora_file, job) : undefined;
    return buildGraph(templateFor(this.options.templates, request), request, this.options.graphOptions, {
      startImagePath,
      ...(endImagePath ? { endImagePath } : {}),
      ...(loraName ? { loraName } : {}),
      jobId: job.jobId,
      promptId,
    });
  }

  /**
   * `POST /prompt`. True when the server holds the prompt; false when that could not be learned
   * (no answer). An ambiguous failure is checked in queue and history before one more try, since
   * the server does not de-duplicate (spec §3, §8). Validation errors are never retried.
   */
  async post(
    server: SubmitTarget,
    graph: ComfyGraph,
    promptId: string,
    log: Logger,
    signal: AbortSignal,
  ): Promise<boolean> {
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      try {
        const accepted = await server.client.submitPrompt(graph, promptId, this.options.clientId, signal);
        if (accepted?.node_errors && Object.keys(accepted.node_errors).length > 0) {
          log.warn({ nodeErrors: accepted.node_errors }, 'ComfyUI accepted the prompt with node errors');
        }
        return true;
      } catch (error) {
        signal.throwIfAborted();
        const refusal = promptRefusal(error, server.host, log);
        if (refusal) throw refusal;
        log.warn({ err: error, attempt }, 'POST /prompt failed; checking whether the server has the prompt');
        const where = await locatePrompt(server.client, promptId, signal);
        if (where.kind === 'pending' || where.kind === 'running' || where.kind === 'done') return true;
        if (where.kind === 'down') return false;
      }
    }
    return false;
  }

  /** A lost prompt again, under the same id; false when the server did not confirm it. */
  async resubmit(
    server: SubmitTarget,
    job: BackendJob,
    promptId: string,
    log: Logger,
    signal: AbortSignal,
  ): Promise<boolean> {
    const graph = await this.prepare(server, job, promptId, signal);
    return this.post(server, graph, promptId, log, signal);
  }

  /** The LoRA as a file of the servers' loras folder, downloaded once per URL (lora-files.ts). */
  private loraName(url: string, job: BackendJob): Promise<string> {
    if (!this.options.loras) {
      throw new UserFacingError(
        'LoRA files are not enabled on this ComfyUI worker (COMFYUI_LORA_DIR is not set); nothing was rendered',
      );
    }
    return this.options.loras.nameFor(url, job.log);
  }

  private async readImage(job: BackendJob, image: StoredImage, name: string) {
    const bytes = await job.inputs.read(image);
    return {
      bytes,
      filename: `${name}.${EXTENSIONS[image.contentType] ?? 'png'}`,
      contentType: image.contentType,
    };
  }

  private async upload(
    server: SubmitTarget,
    file: { bytes: Buffer; filename: string; contentType: string },
    signal: AbortSignal,
  ) {
    try {
      const uploaded = await server.client.uploadImage(
        file,
        INPUT_SUBFOLDER,
        signal,
        this.options.uploadTimeoutMs,
      );
      return uploaded.subfolder ? `${uploaded.subfolder}/${uploaded.name}` : uploaded.name;
    } catch (error) {
      throw uploadFailure(error);
    }
  }
}
