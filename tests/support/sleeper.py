"""A stand-in service process for tests of the stack's process handling: it only waits."""

import time

if __name__ == "__main__":
    time.sleep(300)
