/** The classifier's probability for each of its five classes (they add up to 1). */
export interface NsfwScores {
  porn: number;
  hentai: number;
  sexy: number;
  neutral: number;
  drawing: number;
}
