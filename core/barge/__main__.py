from barge.cli.main import main

main()
