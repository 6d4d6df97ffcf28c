// The parts of an agent's record (agent-signals.ts) that a usual call does not read, each an object of its own
// made when first needed.

/**
 * What most agents never have, off the lines a call reads: the last loop and capability violation and the
 * violations in the window (a bitmap by ring cell, from the first violation on). A call reads the record's
 * one field for it (undefined for most agents).
 */
export class SignalMarks {
  loopDetectedAtMs = Number.NEGATIVE_INFINITY;
  loopToolName = "";
  loopRepeats = 0;
  lastViolationTool = "";
  lastViolationDecision: "denied" | "not-in-allow-list" = "denied";
  violations: Uint8Array | undefined = undefined;
  violationCount = 0;
}

/** Off the lines a call reads: the free-slot chain and label map (a label new to the window) and history. */
export class SignalsMore {
  /** Label id → slot, once more than `SMALL_LABELS` slots exist; below that a scan of the ids is cheaper. */
  slotOf: Map<number, number> | undefined = undefined;
  historyHead = 0;
  historyFilled = 0;
  historySum = 0;
  historySumOfSquares = 0;

  /** `freeHead`: the first free slot (`capacity`: none); each free slot's link cell names the next. */
  constructor(public freeHead: number) {}
}
