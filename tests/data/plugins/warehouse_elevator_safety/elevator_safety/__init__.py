"""Elevator entrapment risk (电梯困人风险): a third-party warehouse algorithm with its own population."""
