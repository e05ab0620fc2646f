"""Files in and out: MIDI, PNG rolls, audio, input discovery, atomic checked writes and
the record of what each output folder holds. Above ``roll`` and ``music``, below the rest."""
