"""The process that reads and cleans a large import file (see reading.py).

Run as `python -m contacts.importing.reader_process`: it reads its arguments (pickled) from
stdin and writes (kind, payload) frames, pickled, to stdout: ("batch", (valid rows, problems,
rows read)) per batch, then ("end", None) — or ("source_error", message) / ("crash",
traceback). A full pipe blocks it, so it never runs more than a batch ahead of the importer.
It never touches the database.
"""

import os
import pickle
import sys
import traceback


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")
    import django

    django.setup()  # the cleaners are Django code (validators, custom fields)
    from pathlib import Path

    from contacts.importing.reading import batches_read
    from contacts.importing.rows import RowCleaner
    from contacts.importing.sources import SourceError, SourceInfo

    out = sys.stdout.buffer

    def send(kind: str, payload) -> None:
        pickle.dump((kind, payload), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        args = pickle.load(sys.stdin.buffer)
        cleaner = RowCleaner.from_args(args["cleaner"])
        info = SourceInfo.from_json(args["info"])
        for valid, invalid, count in batches_read(
            Path(args["path"]), info, cleaner, args["batch_size"]
        ):
            rows = [row.as_tuple() for row in valid]
            send("batch", (rows, [(e.row_number, e.values, e.problems) for e in invalid], count))
        send("end", None)
    except SourceError as error:
        send("source_error", str(error))
    except BrokenPipeError:
        pass  # the importer stopped reading (cancelled, superseded): nothing to say
    except BaseException:
        send("crash", traceback.format_exc())


if __name__ == "__main__":
    main()
