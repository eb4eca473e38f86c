"""The license service: Driving licences, renewals, deferrals, medical certificates, exams and points."""
