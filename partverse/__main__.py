from partverse.cli import main

main()
