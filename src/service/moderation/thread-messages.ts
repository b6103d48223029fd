import type { NsfwScores } from './nsfw-scores.js';

/** What the main thread and the classifier thread say to each other. */
export interface ClassifyRequest {
  id: number;
  pixels: Uint8Array;
}

export type ClassifyReply = { id: number; scores: NsfwScores } | { id: number; error: string };

/** Sent once by the thread when the model has loaded, or could not. */
export type ThreadStatus = ({ status: 'ready' } & ClassifierInfo) | { status: 'failed'; error: string };

/** For the start-up log line, and to show the fast backend is the one in use. */
export interface ClassifierInfo {
  /** TensorFlow.js's backend: `wasm`. */
  backend: string;
  /** How long the thread took to load the model, including its first inference. */
  loadMs: number;
}
