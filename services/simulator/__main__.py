"""`python -m services.simulator --customers 200 --rate 50 --duration 60 --seed 7`."""

from services.simulator.cli import main

if __name__ == "__main__":
    main()
