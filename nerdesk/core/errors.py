"""Coded errors, in the manner of spaCy's ``Errors.E###``.

Every error a user can cause is a :class:`NerdeskError` with a stable code, a message
and, where it applies, the file and line that caused it. The CLI prints it; the app shows it.
"""

from __future__ import annotations

import os


class NerdeskError(Exception):
    """An error the user can act on: bad input, missing file, wrong model."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | os.PathLike | None = None,
        line: int | None = None,
        details: str | None = None,
    ):
        self.code = code
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.details = details
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}"
            if self.line is not None:
                where += f", line {self.line}"
            where += ": "
        return f"[{self.code}] {where}{self.message}"


class Cancelled(Exception):
    """Raised at the next progress point after the user cancelled a job."""


class Errors:
    """Message templates. Use ``raise err(Errors.E001, path=...)``."""

    # project store
    E001 = "Not a nerdesk project (no such file): {path}"
    E002 = "Not a nerdesk project or corrupt database: {path} ({reason})"
    E003 = "Project already exists: {path}"
    E004 = "Project schema version {found} is newer than this nerdesk ({supported}); upgrade nerdesk."
    E005 = "No segment with id {id}"
    E006 = "Nothing to undo"
    E007 = "Nothing to redo"
    E008 = "Span {start}-{end} lies outside segment {segment} ({seg_start}-{seg_end})"
    E009 = "Unknown label '{label}'; the project's labels are: {labels}"
    E011 = "No span {start}-{end} in segment {segment}"
    E012 = "Invalid search query '{query}': {reason}"
    E013 = "Unknown error category '{category}'; choose one of: {categories}"
    E014 = "Unknown routing strategy '{strategy}'; choose one of: {strategies}"
    E015 = "No earlier model to roll back to"
    E016 = (
        "The project is busy: another program has held its write lock for over {seconds} s (an import "
        "or a pre-annotation?). Nothing was saved; try again when it finishes."
    )
    E017 = "Auto-accept refused: {reasons}. (--force / 'Auto-accept anyway' overrides this.)"
    # import / formats
    E100 = "File not found: {path}"
    E101 = "Cannot detect the format of this file; give --format (one of: {formats})"
    E102 = "Unknown format '{fmt}'; choose one of: {formats}"
    E103 = "The file is empty"
    E104 = "The file is not valid UTF-8 text (byte {pos}: {reason})"
    E105 = "The file looks binary, not text"
    E106 = "Malformed line: {reason}"
    E107 = "Span {start}-{end} is out of range for a text of {length} characters"
    E108 = "Span {start}-{end} ('{text}') does not align with token boundaries"
    E109 = (
        "Unknown label '{label}' (not in the project's label set: {labels}); add it with --add-labels or fix the file"
    )
    E110 = "Tokens and tags differ in length ({tokens} tokens, {tags} tags)"
    E111 = "Invalid tag '{tag}'"
    E112 = "Column '{column}' not found; the columns are: {columns}"
    E113 = (
        "The document is too large ({size} characters; the limit is {limit}); split it, e.g. "
        "import it with --lines for one document per line"
    )
    E114 = "Missing field '{field}'"
    E115 = "The format '{fmt}' cannot be exported: {reason}"
    E116 = "The format '{fmt}' has no option '{option}'; its options are: {options}"
    E117 = "Not a regular file but a {kind}; refused without reading it"
    E118 = "{what} holds a lone surrogate ({char}) at character {pos}: not valid Unicode text"
    E119 = "Cannot read the file ({reason})"
    # correction bundles
    E120 = "Not a valid nerdesk bundle: {reason}"
    E121 = "Bundle holds unexpected members ({members}); refused (possible path traversal)"
    E122 = "Bundle member '{member}' inflates beyond its limits; refused (possible zip bomb)"
    E123 = "Bundle member '{member}' does not match the manifest's hash or counts; the bundle was altered"
    # hostile input (issue 13)
    E124 = "The line ends are lone CR characters (classic Mac OS); convert the file to LF or CRLF line ends"
    E125 = "Malformed entry ({entry}): {reason}"
    E126 = (
        "Span {start}-{end} '{label}' overlaps span {other_start}-{other_end} '{other_label}', and this "
        "project does not allow overlapping spans"
    )
    E127 = "Unknown status '{status}'; the known statuses are: {statuses}"
    # round trips that keep every character (issue 13)
    E128 = (
        "{where}: offset {offset} falls inside the character {char!r}, between the two halves of its "
        "UTF-16 surrogate pair; Label Studio offsets count UTF-16 code units, and a span cannot start or end "
        "there"
    )
    E129 = (
        "The format '{fmt}' cannot be exported: {doc}: span {start}-{end} '{label}' ({text!r}) starts or ends "
        "inside the character {cluster!r}, which {fmt} keeps as one token (a flag, an emoji sequence, a "
        "letter with its combining marks); move the span's edge outside it"
    )
    E130 = (
        "The file inflates beyond {limit} (it is {size} compressed): refused before it could fill the "
        "memory (possible zlib bomb). Split the corpus into several files"
    )
    # term lists (issue 18)
    E300 = "The term list holds no term (only blank lines and # comments)"
    E301 = (
        "No label for the terms of this list: give --label LABEL (a plain-text list is one term per line), "
        "or a label column (CSV/TSV: term,label[,note])"
    )
    E302 = "Malformed pattern: {reason}"
    E303 = "Invalid token pattern for spaCy's Matcher: {reason}"
    E304 = (
        "Unknown label '{label}' (not in the project's label set: {labels}); add it with --add-labels "
        "(app: 'Add the labels the list names') or fix the file"
    )
    E305 = "No term list '{ref}' in this project; its lists are: {lists}"
    E306 = "No term {term} in the list '{name}'"
    E307 = (
        "The token pattern uses {attr}, which needs a trained pipeline (tagger, parser or NER); nerdesk "
        "matches on the words alone: use ORTH, TEXT, LOWER, NORM, LEMMA (nerdesk's base forms), SHAPE, "
        "PREFIX, SUFFIX, LENGTH, IS_* or LIKE_* attributes"
    )
    E308 = "Unknown term-list format '{fmt}'; choose one of: {formats}"
    E309 = (
        "The list '{name}' is {case}; the terms added to it must follow its rules "
        "(give the same --case-sensitive / --lemma, or a new --name)"
    )
    # review tiers, agreement, adjudication (issue 16)
    E400 = "Unknown tier '{tier}'; choose one of: {tiers}"
    E401 = (
        "'{user}' works at the {tier} tier, and {action} needs a {needed} (give --tier, NERDESK_TIER or the "
        "config file's tier; app: Team › Who am I)"
    )
    E402 = "No accepted annotation by '{annotator}' of segment {segment} to review"
    E403 = "Unknown review decision '{decision}'; choose one of: {decisions}"
    E404 = "A send-back needs a note telling the annotator what to fix"
    E405 = "Unknown conflict rule '{rule}'; choose one of: {rules}"
    E406 = "Segment {segment} has no accepted annotation by '{annotator}'; its annotators are: {annotators}"
    E407 = (
        "Segment {segment} needs an expert: the protocol leaves {labels} to experts, and '{user}' works at the "
        "{tier} tier"
    )
    E408 = "Invalid config file {path}: {reason}"
    E409 = "The sample share must be between 0 and 1 (got {rate})"
    E410 = "Invalid user name {name!r}: 1 to 64 characters, no '~' and no control characters"
    E411 = "Segment {segment} has no conflict to adjudicate (it needs two or more differing accepted annotations)"
    E412 = "Invalid adjudication: {reason}"
    # labels and guidelines (issue 17)
    E420 = "Invalid label name {name!r}: not empty, no commas, tabs or line breaks, no spaces at either end"
    E422 = "The project already has a label '{label}' (merge into it: nerdesk labels merge PROJECT A,{label} {label})"
    E423 = "Cannot merge: {reason}"
    E424 = "Cannot split '{label}': {reason}"
    E425 = (
        "Span {start}-{end} still has the label '{label}', which was split into {into}: give it one of those "
        "before accepting"
    )
    E426 = "Invalid shortcut key {key!r}: one printable character"
    E427 = "The key '{key}' is already the shortcut of '{label}'"
    E428 = "Invalid colour {color!r}: give #RRGGBB"
    E429 = "'{parent}' cannot be the parent of '{child}': it is a kind of '{child}' already (a cycle)"
    E430 = "Unknown severity '{severity}'; choose one of: {severities}"
    E431 = "Nothing to change for '{label}': every value given is the current one"
    E432 = "Unknown guideline field(s) {fields}; the fields are: {known}"
    E433 = "No guideline version {version}; the versions are 1 to {latest}"
    E434 = "Example {start}-{end} lies outside segment {segment} ({seg_start}-{seg_end}) or is empty"
    E435 = "The edited guideline is not valid: {reason}"
    E436 = (
        "Moving the boundary to {start}-{end} would swallow {spans}; it stops at the neighbour (or delete "
        "the neighbour first)"
    )
    # models
    E200 = "Model not found: {path}"
    E201 = "Model file missing: {path}"
    E202 = "Cannot load ONNX model {path}: {reason}"
    E203 = "Model {path} has unexpected inputs/outputs: {reason}"
    E204 = "Model card {path} does not match the model: {reason}"
    E205 = "Invalid model card {path}: {reason}"
    E206 = "Model file {path} does not match the checksum in its model card (changed or corrupt)"
    E207 = "Not a model package: {path} ({reason})"
    E208 = "Cannot read training data {path}: {reason}"
    E209 = "Invalid label map '{spec}': {reason}"
    E210 = "Training needs PyTorch, which is not installed: pip install 'nerdesk[train]'"
    E211 = "Output directory {path} is not empty; give --force to overwrite"
    E212 = "No reviewed segments in the bundles {path}"
    E214 = "Too little to fine-tune on in {path}: {problems}. Review more (or give --allow-small to fine-tune anyway)"
    E215 = (
        "The active model {model} has no package at {path}: pre-annotation needs it. Promote a model "
        "(nerdesk promote, or Loop › Promote) or predict with another (nerdesk predict --model)"
    )
    E213 = (
        "No gold entity to score under the label map '{spec}' (scored labels: {scored}): the score would be "
        "0 for nothing. The data's labels: {data}; the model's: {model}. Give --label-map (e.g. "
        "'identity', or DATA_LABEL=MODEL_LABEL,...)"
    )


def err(
    template: str,
    *,
    file: str | os.PathLike | None = None,
    line: int | None = None,
    details: str | None = None,
    **fields,
) -> NerdeskError:
    """Build a NerdeskError from an ``Errors`` template and its fields."""
    code = next((name for name, value in vars(Errors).items() if value is template), "E000")
    return NerdeskError(code, template.format(**fields), file=file, line=line, details=details)
