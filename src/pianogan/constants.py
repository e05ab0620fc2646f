"""The numbers every layer shares: the roll's grid and window, the velocity of written
notes and a generator's latent size. Plain values and no imports, so the command line can
show them in its help without loading NumPy; ``pianogan.roll`` exports them too.
"""

N_PITCHES = 106
LOWEST_PITCH = 21
HIGHEST_PITCH = LOWEST_PITCH + N_PITCHES - 1  # 126
PIANO_ROWS = 88  # rows 88..105 (pitches 109..126) lie beyond the piano's top key
WINDOW = 300
COLUMNS_PER_QUARTER = 4
COLUMNS_PER_BAR = 4 * COLUMNS_PER_QUARTER  # a 4/4 bar
SECONDS_PER_COLUMN_AT_120_BPM = 0.125
# 2**18 columns are 9 hours at 120 BPM: a longer piece or image is a corrupt time stamp or
# header, and its roll would need gigabytes, so it is refused instead of exhausting memory.
MAX_COLUMNS = 1 << 18
DEFAULT_VELOCITY = 90  # MIDI velocity of every note written from a roll, which has none
SPLITS = ("train", "validation", "test")  # a prepared dataset's parts, in this order
LATENT_DIM = 14  # numbers in a generator's latent: the shipped model's, and new models' default
# The voices a voiced dataset keeps apart, one bit each in its voice masks (bit i: VOICES[i]).
# POP909 names its tracks MELODY, BRIDGE (a second melody between the phrases) and PIANO.
VOICES = ("melody", "bridge", "accompaniment")
# What the evaluation calls a generator's faults, and training's texture figures count too:
# a note held four bars is a drone; a one-column note with nothing else sounding within
# ISOLATION_COLUMNS columns and closer than ISOLATION_SEMITONES semitones is a stray note.
DRONE_LENGTH = 4 * COLUMNS_PER_BAR
ISOLATION_COLUMNS = 2
ISOLATION_SEMITONES = 7
